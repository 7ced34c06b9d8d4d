# namespaces: user, root inside
anchorage run --rm workshop id
