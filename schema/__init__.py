"""The GraphQL schema: declarative types, inputs, payloads and roots (logic lives in resolvers/).

`schema.build.build_schema()` assembles it. This package's own module imports nothing: the declarations
below the resolvers (inputs, payloads, types) must import without pulling in the roots above them.
"""
