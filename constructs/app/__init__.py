"""The app layer: the one place that knows this product. It reads the settings (schema in
`settings`, values in cdktf.json's context), imports the Lambda runtime package (`paycore`) for
the definitions the infrastructure must use verbatim (request templates and models, pipe filters),
and builds the stack (`stack.PaymentPlatformStack`) from the reusable constructs beside it."""
