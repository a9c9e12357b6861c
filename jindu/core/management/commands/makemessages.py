"""``makemessages`` that also extracts ``_g("…")`` and ``_lazy("…")``.

Several modules import ``gettext as _g`` (because ``_`` is already ``gettext_lazy`` there),
and the reconciliation rules import ``gettext_lazy as _lazy`` (``_`` is ``gettext`` there);
xgettext only knows the standard keywords, so without this their strings never reach
``jindu/locale`` and stay Chinese on English pages.
"""

from django.core.management.commands.makemessages import Command as MakeMessagesCommand


class Command(MakeMessagesCommand):
    xgettext_options = [*MakeMessagesCommand.xgettext_options, "--keyword=_g", "--keyword=_lazy"]
