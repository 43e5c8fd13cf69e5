"""Operations on a deployed environment: the one CLI (`python -m scripts.ops --env ENV COMMAND`,
scripts/ops/cli.py) and the tools it runs, each also a command of its own
(`python -m scripts.ops.<tool>`): set_secrets, redrive_dlq, replay_archive, replay_quarantine,
delivery_ops; check_paypal_cert and plan_summary (the pull request's plan comment) beside them."""
