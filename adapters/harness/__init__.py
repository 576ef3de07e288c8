"""Not a port: the harnesses behind two user commands, `bench` (bench/) and `simulate`
(fault_sim/). They build engines through adapters.engine like every other mode."""
