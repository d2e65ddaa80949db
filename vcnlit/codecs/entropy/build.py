"""``python -m vcnlit.codecs.entropy.build``: compile torchac's coder into this environment (``make install`` runs it)."""

from vcnlit.codecs.entropy.backend import build

if __name__ == "__main__":
    print(f"torchac's coder built: {build()}")
