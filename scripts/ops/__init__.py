"""Operations on a deployed environment: the one CLI (`python -m scripts.ops --env ENV COMMAND`,
scripts/ops/cli.py) and its commands (command.py: what each is made of), each in the module of its
tool: set_secrets, redrive_dlq, replay_archive, replay_quarantine, delivery_ops (also
`python -m scripts.ops.delivery_ops`); check_paypal_cert and plan_summary (the pull request's plan
comment) beside them."""
