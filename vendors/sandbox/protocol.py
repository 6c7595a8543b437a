"""What the in-process test transport and the sandbox views say to each other."""

# Added by vendors.sandbox.testing.SandboxTransport to every request it serves in-process.
TRANSPORT_HEADER = "X-Sandbox-Transport"
IN_PROCESS = "in-process"

# Set by a view on an in-process response that must not reach the client: the transport raises
# the matching requests exception instead ("timeout" -> ReadTimeout, "drop" -> ConnectionError).
FAULT_HEADER = "X-Sandbox-Fault"
