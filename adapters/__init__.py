"""I/O at the edges: venues (paper, Kalshi), game feeds (ESPN, simulated), replay files."""
