void electra_pch_anchor() {}
