"""Mail machinery: the pure parts (classifying what an inbox receives, building what we send, signed
tracking tokens, mailbox URLs and encrypted passwords) and two thin I/O modules over libraries (an
incremental IMAP reader, an SMTP sender).

Nothing here knows the database, the engine or the schema: callers pass lookups, secrets and URLs in, and
get plain values and typed errors back. Layering: mime, dsn, replies, classify, tokens, outbound and
secrets are pure; imap and smtp do network I/O and nothing else; errors is shared by both.

    classify.classify(raw, *, our_message_ids, lead_addresses, reply_classifier=None) -> Classification
    replies.ReplyClassifier (Protocol: is_positive(text) -> bool), replies.RuleReplyClassifier
    outbound.build_message(*, sender, to, subject, text, lead_id, step_id, public_url, secret, html=None,
                           sender_name=None, track_clicks=True, unsubscribe_mailto=None, in_reply_to=None,
                           message_id=None)
    outbound.unsubscribe_url(public_url, secret, lead_id), outbound.plain_address(value)
    tokens.verify_token(secret, token) -> TrackedLink | None, tokens.verify_unsubscribe_token(secret, token)
    secrets.parse_mail_url(url, *, expect=None) -> MailServer, secrets.PasswordBox(secret_key, previous=())
    secrets.derive_signing_key(secret_key) -> bytes   (the `secret` for outbound/tokens)
    imap.fetch_new(server, cursor, *, limit, command_timeout, from_now, ssl_context) -> FetchResult
    smtp.send(server, message, *, command_timeout, tls_context) -> Accepted
"""
