"""Pure values of the venue: integer prices and quantities, instruments, commands, events.

Nothing here reads a clock, randomness or the environment; nothing here imports a framework.
"""
