"""Not a port: the wiring. build.py is the one place an engine is built and started, for every
mode (reconcile, start, resume); lock.py holds one engine per account; start_gate.py keeps live
trading shut until holdings are compared; reconcile.py makes the database agree with the venue;
fail_safe.py is the last resort after the Watchdog failed the engine safe."""
