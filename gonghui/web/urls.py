from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.desk, name="desk"),
    path("orgs/", views.orgs_list, name="orgs_list"),
    path("orgs/<int:org_id>/", views.orgs_detail, name="orgs_detail"),
    path("people/", views.people_list, name="people_list"),
    path("people/search/", views.people_search, name="people_search"),
    path("people/<int:person_id>/", views.people_detail, name="people_detail"),
    path("people/<int:person_id>/unmask/", views.people_unmask, name="people_unmask"),
    path("regions/", views.regions_list, name="regions_list"),
    path("regions/<str:code>/", views.regions_detail, name="regions_detail"),
    path("census/", include("gonghui.census.urls")),
    path("weave/", include("gonghui.weave.urls")),
    path("members/", include("gonghui.membership.urls")),
    path("join/", include("gonghui.membership.urls_public")),
    path("contests/", include("gonghui.competitions.urls")),
    path("honours/", include("gonghui.honours.urls")),
]
