from gonghui.accounts.selectors import viewer_scope
from gonghui.orgs.models import Org


def test_it_scopes_each_persona_to_its_subtree(world):
    def visible(user):
        return set(Org.objects.filter(viewer_scope(user).orgs_q()).values_list("code", flat=True))

    assert visible(world.city_user) == {"C230800", "C230811", "C230804", "T230811100"}
    assert visible(world.district_user) == {"C230811", "T230811100"}
    assert visible(world.sibling_user) == {"C230804"}
    assert viewer_scope(world.district_user).region_prefixes == ("230811",)
