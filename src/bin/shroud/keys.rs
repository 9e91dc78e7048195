//! Key and ciphertext commands, file shapes as pheutil writes them.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use num_bigint::BigInt;
use shroud::encoding::EncodedNumber;
use shroud::format::{MAX_JSON_BYTES, jwk, phe_json};
use shroud::paillier::{
    EncryptedNumber, KeygenOptions, KeygenProgress, LoadOptions, PublicKey, SecretKey,
    generate_keypair,
};

use crate::Failure;

#[derive(Args)]
pub struct KeygenArgs {
    /// Modulus size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = shroud::paillier::DEFAULT_BITS)]
    bits: u32,
    /// Use safe primes (p = 2p' + 1); much slower.
    #[arg(long)]
    safe_primes: bool,
    /// Allow --bits 1024. INSECURE: test vectors only.
    #[arg(long, hide = true)]
    insecure_test_key: bool,
    /// Key identifier written to "kid".
    #[arg(long)]
    kid: Option<String>,
    /// Write the private key here (mode 0600) instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
pub struct PubkeyArgs {
    /// Private key JWK.
    private: PathBuf,
    /// Re-prove that the key's p and q are prime (slow, variable time: once, on a key
    /// file of unknown origin). Without it the load does only constant-time checks.
    #[arg(long)]
    verify_key: bool,
}

#[derive(Args)]
pub struct EncryptArgs {
    /// Public key JWK (a private key file works too).
    public: PathBuf,
    /// The number: an integer or a decimal / scientific float.
    value: String,
}

#[derive(Args)]
pub struct DecryptArgs {
    /// Private key JWK.
    private: PathBuf,
    /// Ciphertext JSON {"v", "e"}.
    ciphertext: PathBuf,
    /// Re-prove that the key's p and q are prime (slow, variable time: once, on a key
    /// file of unknown origin). Without it the load does only constant-time checks.
    #[arg(long)]
    verify_key: bool,
}

#[derive(Args)]
pub struct AddArgs {
    /// Public key JWK.
    public: PathBuf,
    /// First ciphertext JSON.
    a: PathBuf,
    /// Second ciphertext JSON.
    b: PathBuf,
}

#[derive(Args)]
pub struct MultiplyArgs {
    /// Public key JWK.
    public: PathBuf,
    /// Ciphertext JSON.
    a: PathBuf,
    /// Plaintext scalar (integer or float).
    scalar: String,
}

/// Reads a small text file, refusing anything over the JSON size limit.
pub fn read_small(path: &Path) -> Result<String, Failure> {
    let meta = std::fs::metadata(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_JSON_BYTES as u64 {
        return Err(Failure(format!(
            "{}: file is larger than 64 KiB",
            path.display()
        )));
    }
    std::fs::read_to_string(path).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn load_public(path: &Path) -> Result<PublicKey, Failure> {
    let text = read_small(path)?;
    jwk::public_key_from_jwk(&text)
        .map(|(pk, _)| pk)
        .map_err(|e| Failure(format!("{}: {e}", path.display())))
}

/// Loads a private key with constant-time checks only.
pub fn load_secret(path: &Path) -> Result<SecretKey, Failure> {
    load_secret_with(path, LoadOptions::default()).map(|(sk, _)| sk)
}

/// Loads a private key (and its kid) with the given options (`--verify-key`).
pub fn load_secret_with(
    path: &Path,
    opts: LoadOptions,
) -> Result<(SecretKey, Option<String>), Failure> {
    let text = zeroize::Zeroizing::new(read_small(path)?);
    jwk::secret_key_from_jwk_with(&text, opts)
        .map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn load_ciphertext(pk: &PublicKey, path: &Path) -> Result<EncryptedNumber, Failure> {
    let text = read_small(path)?;
    phe_json::from_json_str(pk, &text).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

/// Parses a number as pheutil would: an integer if it is one, otherwise a finite float.
pub fn encode_value(pk: &PublicKey, s: &str) -> Result<EncodedNumber, Failure> {
    let t = s.trim();
    if let Ok(i) = t.parse::<BigInt>() {
        return Ok(EncodedNumber::encode_int(pk, &i, None)?);
    }
    let x: f64 = t
        .parse()
        .map_err(|_| Failure(format!("\"{s}\" is not a number")))?;
    Ok(EncodedNumber::encode_f64(pk, x, None, None)?)
}

fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

pub fn keygen(a: KeygenArgs) -> Result<(), Failure> {
    let opts = KeygenOptions {
        bits: a.bits,
        safe_primes: a.safe_primes,
        insecure_allow_1024: a.insecure_test_key,
    };
    let tty = std::io::stderr().is_terminal();
    let tested = std::cell::Cell::new(0u64);
    let primes = std::cell::Cell::new(0u32);
    let started = std::time::Instant::now();
    let progress = |ev: KeygenProgress| {
        match ev {
            KeygenProgress::Candidate => tested.set(tested.get() + 1),
            KeygenProgress::PrimeFound => primes.set(primes.get() + 1),
            KeygenProgress::Retry => primes.set(0),
        }
        if tty && (tested.get().is_multiple_of(16) || ev != KeygenProgress::Candidate) {
            eprint!(
                "\rgenerating a {}-bit key{}: {} candidates tested, {}/2 primes found, {:.1} s",
                a.bits,
                if a.safe_primes { " (safe primes)" } else { "" },
                tested.get(),
                primes.get().min(2),
                started.elapsed().as_secs_f64()
            );
            let _ = std::io::stderr().flush();
        }
    };
    let sk = generate_keypair(opts, &mut shroud::rng::os_rng(), &progress)?;
    if tty {
        eprintln!();
    }
    let kid = a.kid.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!(
            "shroud {}-bit Paillier key, generated at unix time {secs}",
            a.bits
        )
    });
    let text = format!("{}\n", jwk::secret_key_to_jwk(&sk, &kid));
    match a.out {
        Some(path) => write_private(&path, &text)?,
        None => print!("{text}"),
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::fs::OpenOptions;
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        Failure(format!(
            "{}: {e} (refusing to overwrite a key)",
            path.display()
        ))
    })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Failure(format!("{}: {e}", path.display())))
}

pub fn pubkey(a: PubkeyArgs) -> Result<(), Failure> {
    let (sk, kid) = load_secret_with(
        &a.private,
        LoadOptions {
            verify: a.verify_key,
        },
    )?;
    print_json(&jwk::public_key_to_jwk(
        sk.public_key(),
        kid.as_deref().unwrap_or(""),
    ));
    Ok(())
}

pub fn encrypt(a: EncryptArgs) -> Result<(), Failure> {
    let pk = load_public(&a.public)?;
    let enc = encode_value(&pk, &a.value)?;
    // pheutil writes exponent -32 where the value allows it.
    let enc = if enc.exponent() > -32 {
        enc.decrease_exponent_to(-32).unwrap_or(enc)
    } else {
        enc
    };
    let c = pk.encrypt_encoded(&enc, &mut shroud::rng::os_rng())?;
    print_json(&phe_json::to_json(&c));
    Ok(())
}

pub fn decrypt(a: DecryptArgs) -> Result<(), Failure> {
    let (sk, _) = load_secret_with(
        &a.private,
        LoadOptions {
            verify: a.verify_key,
        },
    )?;
    let c = load_ciphertext(sk.public_key(), &a.ciphertext)?;
    println!("{}", sk.decrypt_encoded(&c)?.decode()?);
    Ok(())
}

pub fn add(a: AddArgs) -> Result<(), Failure> {
    let pk = load_public(&a.public)?;
    let x = load_ciphertext(&pk, &a.a)?;
    let y = load_ciphertext(&pk, &a.b)?;
    let mut s = x.add(&pk, &y)?;
    s.ciphertext = pk.rerandomize(&s.ciphertext, &mut shroud::rng::os_rng())?;
    print_json(&phe_json::to_json(&s));
    Ok(())
}

pub fn multiply(a: MultiplyArgs) -> Result<(), Failure> {
    let pk = load_public(&a.public)?;
    let x = load_ciphertext(&pk, &a.a)?;
    let k = encode_value(&pk, &a.scalar)?;
    let mut p = x.mul_encoded(&pk, &k)?;
    p.ciphertext = pk.rerandomize(&p.ciphertext, &mut shroud::rng::os_rng())?;
    print_json(&phe_json::to_json(&p));
    Ok(())
}
