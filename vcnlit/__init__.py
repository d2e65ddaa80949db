"""vcnlit: virtual-codec supervised re-sampling image compression."""

import os

# torch's CPU kernels run on OpenMP threads; by default an idle thread spins, waiting for the next
# parallel region. On cores shared with other work (a busy server, a laptop) the spinning thread takes
# the core from the thread that has work: evaluation took 3x the CPU time and training 3-4x (make
# tables ARGS='debug=smoke' reusing its runs: 47.7 s -> 14.6 s user, identical results files). Waiting
# passively changes no value (the same threads split the same work). It must be set before torch is
# imported; a value in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
