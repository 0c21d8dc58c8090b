"""Water quality: field samples, drinking-water standards, pollution indices, river signals.

Core functions are pure (DataFrame in, DataFrame out) so that the registry
and the report can store and render them. See docs/water-quality.md.
"""
