"""The local platform: the whole stack on this machine against moto, with the real handler code.

- emulator/: moto's server in the background for the plain cdktf loop (`python -m
  scripts.local.emulator start`), and the patches that give moto 5.2 what the stack needs of AWS;
- deploy.py: the `local` stack synthesized and applied to an emulator (Terraform or cdktf);
- runner/: the deployed wiring driven with the real handlers in-process (API Gateway, event
  source mappings, pipes, EventBridge's patterns and templates, the vendors' receivers);
- sample_webhooks.py: Stripe and PayPal webhooks signed as the providers sign them;
- e2e.py: the end-to-end run (`python -m scripts.local.e2e`, what ./scripts/run_local.sh runs),
  with its zero-loss scenarios in scenarios/ (one module each) and readback.py.
"""
