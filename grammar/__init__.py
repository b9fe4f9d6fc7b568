"""The DSL's grammar, ``derive.lark``, installed as the package data of ``derive.grammar``."""
