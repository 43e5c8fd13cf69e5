"""The local AWS emulator: moto's server in the background for the plain cdktf loop
(`python -m scripts.local.emulator start|stop|status|env|messages`, process.py) and the patches
that give moto 5.2 what the local stack needs of AWS (patches.py, `extend_moto`)."""

from scripts.local.emulator.patches import extend_moto

__all__ = ["extend_moto"]
