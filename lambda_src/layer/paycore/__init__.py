"""paycore: shared code of the payment webhook Lambdas (shipped in the layer as python/paycore/).

Modules: ``model`` (Transaction, statuses, currencies), ``envelope`` (ingest envelope + API
Gateway template), ``providers`` (registry: stripe, paypal, direct), ``ledger`` (DynamoDB rows),
``quarantine`` (rejected messages in S3), ``secrets`` (Secrets Manager with TTL cache), ``obs``
(Powertools logger/metrics/tracer). See lambda_src/README.md for the data contract.
"""
