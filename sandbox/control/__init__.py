"""The sandbox's control face, mounted at ``/sandbox``: what an operator, a test suite or a vendor's
CI changes about the sandbox itself rather than asking an actor: the clock, the world, the endpoint
register, reset and the fault switches (docs/control.md). Persona tokens never open it
(:mod:`sandbox.control.guard`)."""
