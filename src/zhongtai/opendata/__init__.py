"""数据开放: published resources whose open type is open or conditional, released by rules that drop,
generalise or keep each item (nothing personal leaves), served to CKAN clients unmodified."""
