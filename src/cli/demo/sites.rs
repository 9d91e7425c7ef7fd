//! The demo's sites: their places (in the national standard) and their catalogues.

use super::Member;
use crate::db::Tx;
use crate::error::Result;

/// Addresses, coordinates, hours and services of the demo sites' places, as an import in the
/// national standard would give them (same ids: the places the sites already have).
/// What each demo site offers: a short individual help, help with a procedure, and a
/// two-hour workshop worth two cheques.
pub(super) async fn demo_catalogue(
    tx: &mut Tx<'_>,
    sites: &[Member],
    now: jiff::Timestamp,
) -> Result<()> {
    use crate::catalogue::NewService;
    let offer =
        |kind: &str, title: &str, description: &str, themes: &[&str], minutes, price| NewService {
            kind: kind.into(),
            title: title.into(),
            description: description.into(),
            themes: themes.iter().map(|t| t.to_string()).collect(),
            minutes,
            price_cheques: price,
        };
    let offers = || {
        [
            offer(
                "individual_help",
                "Prendre en main son téléphone",
                "Allumer, appeler, envoyer un message, installer une application, à votre rythme.",
                &["device", "email"],
                60,
                1,
            ),
            offer(
                "administrative_procedure",
                "Faire une démarche en ligne avec vous",
                "Déclaration, dossier CAF, rendez-vous : on le fait ensemble, vous gardez la main.",
                &["admin_papers", "admin_social_health"],
                60,
                1,
            ),
            offer(
                "workshop",
                "Atelier : se protéger des arnaques en ligne",
                "En petit groupe, reconnaître un faux message et protéger ses comptes.",
                &["digital_security", "banking_shopping"],
                120,
                2,
            ),
        ]
    };
    for site in sites {
        for service in offers() {
            crate::catalogue::create(tx, &site.org, &site.org.id, service, now).await?;
        }
    }
    Ok(())
}

pub(super) async fn demo_places(
    tx: &mut Tx<'_>,
    sites: &[Member],
    now: jiff::Timestamp,
) -> Result<()> {
    let details = [
        (
            "Bordeaux",
            "33000",
            "33063",
            "3 rue Jean-Jacques Rousseau",
            "44.8412",
            "-0.5769",
            "+33556101010",
            "Mo-Fr 10:00-12:30,13:30-18:00; Sa 10:00-13:00",
            "Maîtrise des outils numériques du quotidien|Aide aux démarches administratives",
            "Déficience visuelle|Handicaps moteurs",
        ),
        (
            "Cenon",
            "33150",
            "33119",
            "1 avenue Jean Jaurès",
            "44.8577",
            "-0.5319",
            "+33557808080",
            "Mo-Fr 08:30-12:00,13:30-17:00",
            "Aide aux démarches administratives|Insertion professionnelle via le numérique",
            "Handicaps moteurs|Surdité",
        ),
        (
            "Bordeaux",
            "33800",
            "33063",
            "12 rue Bertrand de Goth",
            "44.8238",
            "-0.5715",
            "+33556929292",
            "Tu,Th 14:00-18:00; We 09:00-12:00",
            "Maîtrise des outils numériques du quotidien|Loisirs et créations numériques",
            "Illettrisme",
        ),
        (
            "Roubaix",
            "59100",
            "59512",
            "14 place Faidherbe",
            "50.6838",
            "3.1792",
            "+33328332828",
            "Tu-Sa 13:00-19:00",
            "Loisirs et créations numériques|Compréhension du monde numérique",
            "Handicaps moteurs",
        ),
        (
            "Roubaix",
            "59100",
            "59512",
            "9 rue de l'Alma",
            "50.6964",
            "3.171",
            "+33320737373",
            "Mo-Fr 09:00-12:00,14:00-17:00",
            "Aide aux démarches administratives|Accès internet et matériel informatique",
            "Langues étrangères (autres)",
        ),
    ];
    let mut parsed = crate::sites::places::ParsedFile::default();
    for (site, (commune, postcode, insee, address, lat, lon, phone, hours, services, support)) in
        sites.iter().zip(details)
    {
        let mut place = crate::sites::places::StandardPlace::new();
        for (field, value) in [
            ("id", site.org.id.as_str()),
            ("pivot", "73282932000074"),
            ("nom", site.org.name.as_str()),
            ("commune", commune),
            ("code_postal", postcode),
            ("code_insee", insee),
            ("adresse", address),
            ("latitude", lat),
            ("longitude", lon),
            ("telephone", phone),
            ("horaires", hours),
            ("date_maj", "2026-01-15"),
            ("services", services),
            ("prise_en_charge_specifique", support),
            ("frais_a_charge", "Gratuit sous condition"),
            ("modalites_acces", "Se présenter|Téléphoner"),
            (
                "modalites_accompagnement",
                "Accompagnement individuel|Dans un atelier collectif",
            ),
        ] {
            place.set(field, Some(value));
        }
        let errors = crate::sites::places::standard::check(&place);
        if !errors.is_empty() {
            return Err(anyhow::anyhow!("demo place: {errors:?}").into());
        }
        parsed.places.push(place);
    }
    crate::sites::places::import(tx, parsed, None, now).await?;
    Ok(())
}
