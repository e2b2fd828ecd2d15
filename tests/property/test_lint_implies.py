"""``implies`` is sound: when it says "every request of A matches B", no request disproves it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nexusctl.lint.analysis import conjoin, implies, with_residency
from nexusctl.policy.request import RoutingRequest
from nexusctl.policy.routing import IntRange, Match, ScoreRange

TENANTS = ["t1", "t2", "t3"]
USE_CASES = ["faq", "chat", "memo"]
DATA = ["public", "internal", "confidential", "restricted"]
RISK = ["low", "medium", "high"]
RESIDENCY = ["eu", "ca"]
CAPS = ["tools", "json", "vision"]


def maybe_subset(values: list[str]) -> st.SearchStrategy[list[str] | None]:
    return st.none() | st.lists(st.sampled_from(values), unique=True, min_size=1)


@st.composite
def int_ranges(draw: st.DrawFn) -> IntRange | None:
    if draw(st.booleans()):
        return None
    low = draw(st.none() | st.integers(0, 3000))
    high = draw(st.none() | st.integers(0, 3000))
    if low is not None and high is not None and low > high:
        low, high = high, low
    return IntRange(min=low, max=high)


@st.composite
def score_ranges(draw: st.DrawFn) -> ScoreRange | None:
    if draw(st.booleans()):
        return None
    low = draw(st.none() | st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    high = draw(st.none() | st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    if low is not None and high is not None and low > high:
        low, high = high, low
    return ScoreRange(min=low, max=high)


@st.composite
def matches(draw: st.DrawFn) -> Match | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    return Match(
        tenants=draw(maybe_subset(TENANTS)),
        use_cases=draw(maybe_subset(USE_CASES)),
        data_classes=draw(maybe_subset(DATA)),
        risk_classes=draw(maybe_subset(RISK)),
        residency_classes=draw(maybe_subset(RESIDENCY)),
        capabilities=draw(maybe_subset(CAPS)),
        input_tokens=draw(int_ranges()),
        complexity=draw(score_ranges()),
    )


@st.composite
def requests(draw: st.DrawFn) -> RoutingRequest:
    return RoutingRequest(
        tenant=draw(st.sampled_from(TENANTS)),
        app="app",
        use_case=draw(st.sampled_from(USE_CASES)),
        data_class=draw(st.sampled_from(DATA)),
        residency_class=draw(st.sampled_from(RESIDENCY)),
        risk_class=draw(st.sampled_from(RISK)),
        input_tokens=draw(st.integers(0, 3000)),
        output_tokens=10,
        capabilities=draw(st.lists(st.sampled_from(CAPS), unique=True)),
        complexity=draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.6, 0.75, 1.0])),
    )


def holds(match: Match | None, request: RoutingRequest) -> bool:
    """The router's reading of a Match, written independently of the lint code."""
    if match is None:
        return True
    pairs = [
        (match.tenants, request.tenant),
        (match.use_cases, request.use_case),
        (match.data_classes, request.data_class),
        (match.risk_classes, request.risk_class),
        (match.residency_classes, request.residency_class),
    ]
    if any(allowed is not None and value not in allowed for allowed, value in pairs):
        return False
    if match.capabilities is not None and not set(match.capabilities) <= set(request.capabilities):
        return False
    for bounds, value in ((match.input_tokens, request.input_tokens),
                          (match.complexity, request.complexity)):  # fmt: skip
        if bounds is not None:
            if bounds.min is not None and value < bounds.min:
                return False
            if bounds.max is not None and value > bounds.max:
                return False
    return True


@settings(max_examples=200, deadline=None)
@given(narrow=matches(), broad=matches(), request=requests())
def test_implies_is_sound(
    narrow: Match | None, broad: Match | None, request: RoutingRequest
) -> None:
    if implies(narrow, broad) and holds(narrow, request):
        assert holds(broad, request)


@settings(max_examples=200, deadline=None)
@given(match=matches(), request=requests())
def test_with_residency_is_the_conjunction(match: Match | None, request: RoutingRequest) -> None:
    scoped = with_residency(match, "eu")
    assert holds(scoped, request) == (holds(match, request) and request.residency_class == "eu")


DOMAINS = {
    "tenants": TENANTS,
    "use_cases": USE_CASES,
    "data_classes": DATA,
    "risk_classes": RISK,
    "residency_classes": RESIDENCY,
    "capabilities": CAPS,
}


@st.composite
def related_pairs(draw: st.DrawFn) -> tuple[Match, Match]:
    """A match and a perturbation of it: every field kept or dropped (both keep ``implies``
    true) except one, which is also kept, dropped, widened, narrowed or redrawn; so each
    clause of ``implies`` is exercised where it decides the answer."""
    narrow = draw(matches()) or Match()
    other = draw(matches()) or Match()
    focus = draw(st.sampled_from(list(Match.model_fields)))
    fields = {}
    for name in Match.model_fields:
        mine = getattr(narrow, name)
        moves = ["keep", "drop"]
        if name == focus:
            moves.append("other")
            if name in DOMAINS and mine is not None:
                moves += ["widen", "narrow"]
        move = draw(st.sampled_from(moves))
        if move == "keep":
            fields[name] = mine
        elif move == "drop":
            fields[name] = None
        elif move == "widen":
            fields[name] = sorted(set(mine) | set(draw(st.lists(st.sampled_from(DOMAINS[name])))))
        elif move == "narrow":
            fields[name] = sorted(draw(st.sets(st.sampled_from(mine))) if mine else [])
        else:
            fields[name] = getattr(other, name)
    return narrow, Match(**fields)


def _pick(draw: st.DrawFn, allowed: list[str] | None, domain: list[str]) -> str:
    return draw(st.sampled_from(allowed or domain))


def _within(draw: st.DrawFn, bounds: IntRange | ScoreRange | None, top: float) -> float:
    low = 0 if bounds is None or bounds.min is None else bounds.min
    high = top if bounds is None or bounds.max is None else bounds.max
    return draw(st.sampled_from([low, high, (low + high) / 2]))


@st.composite
def requests_matching(draw: st.DrawFn, match: Match) -> RoutingRequest:
    """A request built to satisfy ``match`` (so soundness is tested where it can fail)."""
    extra = draw(st.lists(st.sampled_from(CAPS), unique=True))
    return RoutingRequest(
        tenant=_pick(draw, match.tenants, TENANTS),
        app="app",
        use_case=_pick(draw, match.use_cases, USE_CASES),
        data_class=_pick(draw, match.data_classes, DATA),
        residency_class=_pick(draw, match.residency_classes, RESIDENCY),
        risk_class=_pick(draw, match.risk_classes, RISK),
        input_tokens=int(_within(draw, match.input_tokens, 3000)),
        output_tokens=10,
        capabilities=sorted(set(match.capabilities or []) | set(extra)),
        complexity=_within(draw, match.complexity, 1.0),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_implies_is_sound_on_related_matches(data: st.DataObject) -> None:
    narrow, broad = data.draw(related_pairs())
    request = data.draw(requests_matching(narrow))
    if implies(narrow, broad) and holds(narrow, request):
        assert holds(broad, request)


@settings(max_examples=200, deadline=None)
@given(first=matches(), second=matches(), request=requests())
def test_conjoin_is_the_conjunction(
    first: Match | None, second: Match | None, request: RoutingRequest
) -> None:
    both = conjoin(first, second)
    expected = holds(first, request) and holds(second, request)
    if both is None:
        assert not expected
    else:
        assert holds(both, request) == expected
