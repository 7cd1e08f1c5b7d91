"""The public attributes of flax.linen.Module: a model member of that name would override one, so the
chapter's name is renamed (d2lc.passes.names). tests/test_faults_frontend.py checks the list against the
installed framework, so an upgrade that adds an attribute fails there."""

MEMBER_NAMES = frozenset("""
    apply bind clone copy get_variable has_rng has_variable init init_with_output is_initializing
    is_mutable_collection lazy_init make_rng module_paths param path perturb put_variable setup sow tabulate
    unbind variable variables
""".split())
