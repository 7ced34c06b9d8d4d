//! The shell's variables, kept as `ash` keeps them: in 39 hash buckets,
//! each in the order its variables were made, so the environment a
//! command gets (and `env` prints) comes in `ash`'s order.

const BUCKETS: usize = 39;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub value: Option<String>,
    pub exported: bool,
    pub readonly: bool,
}

#[derive(Clone, Debug)]
pub struct Vars {
    buckets: Vec<Vec<Var>>,
}

/// `ash`'s `hashvar`: the first byte times 16, plus every byte.
fn bucket(name: &str) -> usize {
    let bytes = name.as_bytes();
    let first = u32::from(bytes.first().copied().unwrap_or(0));
    let sum: u32 = bytes.iter().map(|b| u32::from(*b)).sum();
    ((first << 4) + sum) as usize % BUCKETS
}

impl Default for Vars {
    fn default() -> Vars {
        Vars {
            buckets: vec![Vec::new(); BUCKETS],
        }
    }
}

impl Vars {
    /// The variables of a new shell: its environment's, exported, in
    /// their order there.
    pub fn from_env(env: &[String]) -> Vars {
        let mut vars = Vars::default();
        for pair in env {
            if let Some((name, value)) = pair.split_once('=') {
                let var = vars.entry(name);
                var.value = Some(value.to_string());
                var.exported = true;
            }
        }
        vars
    }

    fn entry(&mut self, name: &str) -> &mut Var {
        let chain = &mut self.buckets[bucket(name)];
        let index = match chain.iter().position(|v| v.name == name) {
            Some(index) => index,
            None => {
                chain.push(Var {
                    name: name.to_string(),
                    value: None,
                    exported: false,
                    readonly: false,
                });
                chain.len() - 1
            }
        };
        &mut chain[index]
    }

    pub fn get_var(&self, name: &str) -> Option<&Var> {
        self.buckets[bucket(name)].iter().find(|v| v.name == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_var(name).and_then(|v| v.value.as_deref())
    }

    /// Sets a variable: `Err` with `ash`'s message if it is read-only.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let var = self.entry(name);
        if var.readonly {
            return Err(format!("{name}: is read only"));
        }
        var.value = Some(value.to_string());
        Ok(())
    }

    pub fn export(&mut self, name: &str) {
        self.entry(name).exported = true;
    }

    pub fn set_readonly(&mut self, name: &str) {
        self.entry(name).readonly = true;
    }

    pub fn unset(&mut self, name: &str) -> Result<(), String> {
        let chain = &mut self.buckets[bucket(name)];
        if let Some(index) = chain.iter().position(|v| v.name == name) {
            if chain[index].readonly {
                return Err(format!("{name}: is read only"));
            }
            chain.remove(index);
        }
        Ok(())
    }

    /// Puts back what a variable was (`local`'s end): `None` unsets it.
    pub fn restore(&mut self, name: &str, old: Option<Var>) {
        match old {
            Some(var) => *self.entry(name) = var,
            None => {
                let chain = &mut self.buckets[bucket(name)];
                chain.retain(|v| v.name != name);
            }
        }
    }

    /// Every variable in `ash`'s table order.
    pub fn all(&self) -> impl Iterator<Item = &Var> {
        self.buckets.iter().flatten()
    }

    /// The environment for a command: the exported variables that have
    /// values, then `extra` (a command's own assignments) over them.
    pub fn environment(&self, extra: &[(String, String)]) -> Vec<String> {
        if extra.is_empty() {
            return self
                .all()
                .filter(|v| v.exported)
                .filter_map(|v| v.value.as_ref().map(|value| format!("{}={value}", v.name)))
                .collect();
        }
        let mut with = self.clone();
        for (name, value) in extra {
            let var = with.entry(name);
            var.value = Some(value.clone());
            var.exported = true;
        }
        with.environment(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_comes_in_ashs_order() {
        // `env -i A=1 B=2 C=3 PATH=/bin HOSTNAME=x HOME=/root busybox sh
        // -c 'export Z=1; x=1; export x; env'`, SHLVL and PWD as ash
        // sets them at start.
        let mut vars = Vars::from_env(&[
            "A=1".into(),
            "B=2".into(),
            "C=3".into(),
            "PATH=/bin".into(),
            "HOSTNAME=x".into(),
            "HOME=/root".into(),
        ]);
        vars.set("SHLVL", "1").unwrap();
        vars.export("SHLVL");
        vars.set("PWD", "/tmp").unwrap();
        vars.export("PWD");
        vars.set("Z", "1").unwrap();
        vars.export("Z");
        vars.set("x", "1").unwrap();
        vars.export("x");
        vars.set("unexported", "1").unwrap();
        assert_eq!(
            vars.environment(&[]),
            [
                "HOSTNAME=x",
                "SHLVL=1",
                "HOME=/root",
                "C=3",
                "Z=1",
                "x=1",
                "A=1",
                "PATH=/bin",
                "B=2",
                "PWD=/tmp"
            ]
        );
    }

    #[test]
    fn read_only_stays() {
        let mut vars = Vars::default();
        vars.set("r", "1").unwrap();
        vars.set_readonly("r");
        assert_eq!(vars.set("r", "2"), Err("r: is read only".into()));
        assert_eq!(vars.unset("r"), Err("r: is read only".into()));
        assert_eq!(vars.get("r"), Some("1"));
    }
}
