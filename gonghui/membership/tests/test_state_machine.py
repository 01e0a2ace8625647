"""The membership state machine under random sequences of apply / approve / reject / transfer / lapse / withdraw.

A hypothesis RuleBasedStateMachine drives the services with a few people and unions and keeps a
model of what each person's current membership should be. After every step the invariants hold
in the database: never two active (or two pending) memberships for a person, every change in
the history (events chain from "" to the current status, one audit row each), no member number
issued to two people or shared by two active memberships.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Count
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from gonghui.audit.models import AuditEvent
from gonghui.membership import services
from gonghui.membership.models import MemberNumber, Membership, MembershipEvent
from gonghui.people.tests.factories import PersonFactory

PEOPLE = 3


class MembershipMachine(RuleBasedStateMachine):
    people: list = []
    unions: list = []
    staff = None

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.current: dict[int, tuple[str, int] | None] = {
            p.pk: None for p in self.people
        }  # (status, org id)
        self.numbers_seen: dict[str, int] = {}

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---

    def _latest(self, person) -> Membership | None:
        return Membership.objects.filter(person=person, status__in=["pending", "active"]).first()

    # --- rules ---

    @rule(
        p=st.integers(0, PEOPLE - 1),
        u=st.integers(0, 2),
        channel=st.sampled_from(["online", "api", "onsite"]),
    )
    def apply(self, p, u, channel):
        person, union = self.people[p], self.unions[u]
        if self.current[person.pk] is not None:
            with pytest.raises((services.AlreadyMember, services.ApplicationPending)):
                services.membership_apply(person=person, org=union, channel=channel)
            return
        services.membership_apply(person=person, org=union, channel=channel, by=self.staff)
        self.current[person.pk] = ("pending", union.pk)

    @rule(p=st.integers(0, PEOPLE - 1))
    def approve(self, p):
        person = self.people[p]
        m = self._latest(person)
        expected = self.current[person.pk]
        if m is None or expected[0] != "pending":
            if m is not None:
                with pytest.raises(services.TransitionNotAllowed):
                    services.membership_approve(membership=m, by=self.staff)
            return
        services.membership_approve(membership=m, by=self.staff)
        self.current[person.pk] = ("active", m.org_id)

    @rule(p=st.integers(0, PEOPLE - 1), reason=st.sampled_from(["资料不全", "不在覆盖范围"]))
    def reject(self, p, reason):
        person = self.people[p]
        m = self._latest(person)
        if m is None:
            return
        if m.status != "pending":
            with pytest.raises(services.TransitionNotAllowed):
                services.membership_reject(membership=m, reason=reason, by=self.staff)
            return
        services.membership_reject(membership=m, reason=reason, by=self.staff)
        self.current[person.pk] = None

    @rule(p=st.integers(0, PEOPLE - 1), u=st.integers(0, 2))
    def transfer(self, p, u):
        person, union = self.people[p], self.unions[u]
        m = self._latest(person)
        if m is None:
            return
        if m.status != "active" or m.org_id == union.pk:
            with pytest.raises(services.TransferError):
                services.membership_transfer(membership=m, to_org=union, by=self.staff)
            return
        new = services.membership_transfer(membership=m, to_org=union, by=self.staff)
        assert new.org_id == union.pk
        self.current[person.pk] = ("active", union.pk)

    @rule(p=st.integers(0, PEOPLE - 1))
    def lapse(self, p):
        person = self.people[p]
        m = self._latest(person)
        if m is None:
            return
        if m.status != "active":
            with pytest.raises(services.TransitionNotAllowed):
                services.membership_lapse(membership=m, by=self.staff)
            return
        services.membership_lapse(membership=m, by=self.staff, reason="欠缴会费")
        self.current[person.pk] = None

    @rule(p=st.integers(0, PEOPLE - 1))
    def withdraw(self, p):
        person = self.people[p]
        m = self._latest(person)
        if m is None:
            return
        services.membership_withdraw(membership=m, by=self.staff, reason="本人申请")
        self.current[person.pk] = None

    # --- invariants ---

    @invariant()
    def matches_the_model(self):
        for person in self.people:
            got = services.membership_status_for(person=person)
            expected = self.current[person.pk]
            assert (got.status, got.org_id) == expected if got else expected is None

    @invariant()
    def never_two_active_or_two_pending(self):
        doubles = (
            Membership.objects.filter(status__in=["active", "pending"])
            .values("person_id", "status")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not doubles.exists()

    @invariant()
    def every_change_is_in_the_history(self):
        for m in Membership.objects.prefetch_related("events"):
            chain = [(e.from_status, e.to_status) for e in m.events.all()]
            assert chain and chain[0][0] == "", chain
            for (_, to), (frm, _) in zip(chain, chain[1:], strict=False):
                assert frm == to, chain
            assert chain[-1][1] == m.status
            assert all(e.by_id == self.staff.pk for e in m.events.all())
        moves = AuditEvent.objects.filter(action__startswith="membership.").exclude(
            action="membership.transfer_request"
        )
        assert moves.count() == MembershipEvent.objects.count()

    @invariant()
    def no_member_number_reused(self):
        owners = dict(MemberNumber.objects.values_list("number", "person_id"))
        for number, person_id in Membership.objects.exclude(member_no=None).values_list(
            "member_no", "person_id"
        ):
            assert owners[number] == person_id  # issued, and to this person only
            previous = self.numbers_seen.setdefault(number, person_id)
            assert previous == person_id
        active = list(Membership.objects.filter(status="active").values_list("member_no", flat=True))
        assert len(active) == len(set(active)) and None not in active


@pytest.mark.django_db
def test_the_state_machine_keeps_its_invariants(world, unions):
    MembershipMachine.people = [PersonFactory() for _ in range(PEOPLE)]
    MembershipMachine.unions = [unions.town, unions.village, unions.street]
    MembershipMachine.staff = world.city_user
    run_state_machine_as_test(
        MembershipMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
