"""Talking to a board over UART: the wire protocol, transports, sessions, virtual boards."""
