"""The performance harness behind `python run.py bench`: one module per measurement.

latency (tick -> exit order and the pykka floor), budget (venue calls per minute), replay_speed
(the real NBA recording), memory (RSS per position and recovery time). Wall-clock readings
(time.perf_counter) are the point of a benchmark and live only here, never in actors/ or tests.
"""
