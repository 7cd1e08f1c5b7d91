"""The public attributes of gluon.Block and gluon.HybridBlock: a model member of that name would override one, so the
chapter's name is renamed (d2lc.passes.names). tests/test_faults_frontend.py checks the list against the
installed framework, so an upgrade that adds an attribute fails there."""

MEMBER_NAMES = frozenset("""
    apply cast collect_params export forward hybrid_forward hybridize infer_shape infer_type initialize load
    load_parameters load_params name name_scope optimize_for params prefix register_child
    register_forward_hook register_forward_pre_hook register_op_hook save save_parameters save_params
    summary
""".split())
