"""The Amazon States Language as data: parse, validate, compile. Pure: no I/O."""
