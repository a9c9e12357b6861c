from django.conf import settings


def jindu(request):
    """Template context every page needs: demo flag and the navigation."""
    from jindu.navigation import navigation_for

    return {"JINDU_DEMO": settings.JINDU_DEMO, "nav": navigation_for(request)}
