"""Running a stack: Docker, ports, readiness probes, provisioning, migrations during `up`."""
