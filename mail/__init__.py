"""Mail machinery: the pure parts (classifying what an inbox receives, building what we send, signed
tracking tokens, mailbox URLs and encrypted passwords) and two thin I/O modules over libraries (an
incremental IMAP reader, an SMTP sender).

Nothing here knows the database, the engine or the schema: callers pass lookups, secrets and URLs in, and
get plain values and typed errors back. Layering: classify, outbound, secrets are pure; imap and smtp do
network I/O and nothing else; errors is shared by both.
"""
