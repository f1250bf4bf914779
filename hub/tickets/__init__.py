"""Delivering correction tasks to ticket systems: RT (REST2), TOPdesk and ServiceNow.

- :mod:`hub.tickets.render`: a task as a ticket's subject, body and comments;
- :mod:`hub.tickets.plan`: what to do for a task, given what was delivered and the
  ticket's state (pure), and where the task goes;
- :mod:`hub.tickets.system`: the one small interface of the clients
  (:mod:`~hub.tickets.rt`, :mod:`~hub.tickets.topdesk`, :mod:`~hub.tickets.servicenow`);
- :mod:`hub.tickets.refs`: the remembered ticket of each task (``hub.ticket-refs``);
- :mod:`hub.tickets.sink`: the Kafka loop that does it all;
- :mod:`hub.tickets.fake_rt`, :mod:`~hub.tickets.fake_topdesk`,
  :mod:`~hub.tickets.fake_servicenow`: local fakes of the three systems.

Importing this package imports nothing else.
"""
