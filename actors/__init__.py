"""pykka actors: one module per actor, plus the runtime (clock, scheduler, quiescence)."""
