app_name = "substances"
urlpatterns: list = []
