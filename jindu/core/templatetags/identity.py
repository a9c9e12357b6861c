"""Template filters for personal data: identity numbers are masked unless the user may see them.

Usage::

    {% load identity %}
    {{ person.id_number|identity_number:request.user }}
    {% identity_number person.id_number request.user person.division %}

Both go through :func:`jindu.core.idnumbers.display_identity_number`, the one
implementation shared with the API and exports. The tag's optional third argument is
the record's division: the permission must then be held in a subtree containing it.
"""

from django import template

from jindu.core.idnumbers import display_identity_number, mask_identity_number
from jindu.core.phones import mask_phone

register = template.Library()

__all__ = ["display_identity_number"]


@register.filter(name="identity_number")
def identity_number_filter(value, user):
    """``value`` in full for users holding ``accounts.view_identity_number``, masked otherwise."""
    return display_identity_number(value, user)


@register.simple_tag(name="identity_number")
def identity_number_tag(value, user, division=None):
    """Like the filter, with the record's division narrowing where the permission counts."""
    return display_identity_number(value, user, division)


@register.filter(name="mask_identity_number")
def mask_identity_number_filter(value):
    """Always masked (``460107********0015``), whoever looks."""
    return mask_identity_number(value)


@register.filter(name="mask_phone")
def mask_phone_filter(value):
    """``139****1111``."""
    return mask_phone(value or "")
