"""vcnlit: virtual-codec supervised re-sampling image compression."""

__version__ = "0.1.0"
