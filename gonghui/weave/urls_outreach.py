"""Outreach (走访) and campaigns (集中行动) under /weave/outreach/."""

from django.urls import path

from . import views_outreach as v

urlpatterns = [
    path("", v.outreach_index, name="weave_outreach"),
    path("mine/", v.outreach_mine, name="weave_outreach_mine"),
    path("unions/<int:org_id>/", v.outreach_union, name="weave_outreach_union"),
    path("unions/<int:org_id>/assign/", v.outreach_assign, name="weave_outreach_assign"),
    path("unions/<int:org_id>/campaigns/", v.campaign_list, name="weave_campaigns"),
    path("assignments/<int:assignment_id>/", v.outreach_assignment, name="weave_outreach_assignment"),
    path("assignments/<int:assignment_id>/contact/", v.outreach_contact, name="weave_outreach_contact"),
    path("campaigns/<int:campaign_id>/", v.campaign_detail, name="weave_campaign"),
]
