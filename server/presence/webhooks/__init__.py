"""Outbound webhooks (decisions 47 and 48): the delivery loop and the HTTP sender.

What an event is and who wants it is pure (:mod:`presence.core.webhooks`,
:mod:`presence.core.outbound`); where it waits is Redis (:mod:`presence.store.outbox`);
this package moves it: :mod:`.dispatcher` leases partitions, fans their new events out
to the subscriptions' queues and delivers them in order per agent; :mod:`.sender` signs
and posts one message.
"""
