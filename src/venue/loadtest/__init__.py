"""`venue loadtest`: an open-loop load generator for a running venue, over REST or WebSocket.

It is a separate client process: from the venue's own code it imports only
`venue.client.signing`, never the server. Modules: `setup` (accounts and keys through the
admin API, untimed), `driver` (the schedule, the order flow and the senders), `subscribers`
(market-data clients checking the seq chain), `stats` (percentiles and the report), `cli`
(the Typer command).
"""
