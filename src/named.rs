//! Closed enums whose variants have names in scenario files and on the command line (quirk
//! fixes, test breakages, fault kinds): each variant is declared once with its name, and the
//! name is parsed once, when a scenario is loaded.

/// A closed enum of named values: each variant with its name, `ALL`,
/// `name`, `from_name`, and serde through the name.
macro_rules! named {
    ($(#[$meta:meta])* pub enum $enum:ident { $($(#[$vmeta:meta])* $variant:ident = $name:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $enum {
            $($(#[$vmeta])* $variant,)*
        }

        impl $enum {
            pub const ALL: &[$enum] = &[$($enum::$variant,)*];

            /// The name used in scenarios, on the command line and in reports.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<$enum> {
                $enum::ALL.iter().copied().find(|v| v.name() == name)
            }

            /// Every name, comma-separated (for diagnostics).
            pub fn names() -> String {
                $enum::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $enum {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $enum {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$enum, D::Error> {
                let name = String::deserialize(d)?;
                $enum::from_name(&name).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} \"{name}\" (known: {})",
                        stringify!($enum).to_lowercase(),
                        $enum::names()
                    ))
                })
            }
        }
    };
}

pub(crate) use named;
