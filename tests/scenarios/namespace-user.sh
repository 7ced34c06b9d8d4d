# namespaces: user, root inside
anchorage run workshop id
