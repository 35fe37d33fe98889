//! Command-line arguments (clap). This is the contract scripts and CI rely on.

use std::path::PathBuf;

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// The command line with Terraform's single-dash habit understood: `-out=net.plan`,
/// `-auto-approve`, `-detailed-exitcode`, `-chdir=DIR` are read as `--out=net.plan`, … when
/// the word is one of clawform's long options (of any command; `-chdir` is `-C`). Short
/// options (`-C DIR`) and values are left alone; everything after `--` too.
pub fn with_terraform_dashes(argv: Vec<OsString>) -> Vec<OsString> {
    let mut longs: BTreeSet<String> = BTreeSet::new();
    fn collect(cmd: &clap::Command, longs: &mut BTreeSet<String>) {
        longs.extend(cmd.get_arguments().filter_map(|a| a.get_long()).map(str::to_string));
        for sub in cmd.get_subcommands() {
            collect(sub, longs);
        }
    }
    collect(&Cli::command(), &mut longs);
    let mut out = Vec::with_capacity(argv.len());
    let mut rest = false;
    for arg in argv {
        let text = arg.to_str().map(str::to_string);
        match text {
            Some(t) if !rest && t == "--" => {
                rest = true;
                out.push(arg);
            }
            Some(t) if !rest && t.starts_with('-') && !t.starts_with("--") && t.len() > 2 => {
                let word = &t[1..];
                let name = word.split('=').next().unwrap_or(word);
                if name == "chdir" {
                    out.push("-C".into());
                    if let Some((_, dir)) = word.split_once('=') {
                        out.push(dir.into());
                    }
                } else if longs.contains(name) {
                    out.push(format!("-{t}").into());
                } else {
                    out.push(arg);
                }
            }
            _ => out.push(arg),
        }
    }
    out
}

/// Infrastructure as code for the OpenClaw platform on AWS.
#[derive(Debug, Parser)]
#[command(name = "clawform", version, about)]
pub struct Cli {
    /// Run as if started in DIR (stacks in DIR/stacks, state in DIR/state). As with Terraform's
    /// -chdir, every relative file argument (plan files, --out, --plan, --prices, state push
    /// FILE, --api-key-file) is then relative to DIR too.
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// AWS region (overrides AWS_REGION and the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The named AWS profile to use (overrides AWS_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS request to URL (overrides AWS_ENDPOINT_URL): a local emulator or a proxy.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Never colour output (NO_COLOR in the environment does the same).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Where state lives: a folder (default `state/` of the project) or `s3://BUCKET/PREFIX`.
    #[arg(long, global = true, env = "CLAWFORM_BACKEND", value_name = "URL")]
    pub backend: Option<String>,
    /// Wait up to SECONDS for a stack's lock held by someone else, instead of failing at once.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,
    /// Let plans delete or replace what other stacks use (a tenant's rule on a base listener),
    /// with a warning naming each, instead of refusing them. For when you know those stacks
    /// are about to go too.
    #[arg(long, global = true)]
    pub ignore_dependents: bool,
    /// Print the AWS API calls made (by service and operation, with time) at the end.
    #[arg(long, global = true)]
    pub stats: bool,
    /// Log level of clawform's own diagnostics on stderr; the AWS SDK's stay at warn (RUST_LOG,
    /// a full tracing filter such as `debug,aws_smithy_runtime=trace`, sets both).
    #[arg(long, global = true, value_name = "LEVEL", value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Command {
    /// The command with its relative file arguments made relative to `dir` (`-C DIR`), so that
    /// every path of a command line is read from one place.
    pub fn with_paths_in(mut self, dir: &std::path::Path) -> Command {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && p.as_os_str() != "-" {
                *p = dir.join(&*p);
            }
        };
        match &mut self {
            Command::Plan { out: Some(p), .. } | Command::Graph { plan: Some(p), .. } | Command::Cost { prices: Some(p), .. } => fix(p),
            Command::Show { planfile, .. } => fix(planfile),
            Command::State { command: StateCommand::Push { file } } => fix(file),
            Command::Tenant {
                command: TenantCommand::Create { secrets, .. } | TenantCommand::Plan { secrets, .. } | TenantCommand::RotateKey { secrets, .. },
            } => {
                if let Some(p) = secrets.api_key_file.as_mut() {
                    fix(p);
                }
            }
            _ => {}
        }
        self
    }
}

/// Parameter values shared by the commands that load a stack. Lowest to highest precedence, as
/// Terraform's variables: the stack's defaults, values recorded in state by an earlier
/// `--param`, `CLAWFORM_PARAM_NAME` environment variables (for parameters the stack declares),
/// `--params-file` files in order, then `--param`.
#[derive(Debug, Args, Clone, Default)]
pub struct ParamArgs {
    /// Set a parameter: NAME=VALUE (VALUE is read as YAML: 3, true, text). Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Read parameters from a YAML file of `NAME: VALUE` lines (as Terraform's -var-file).
    /// Repeatable; later files win, and --param wins over files.
    #[arg(long = "params-file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `--target` and `--replace`, as Terraform's `-target` and `-replace`.
#[derive(Debug, Args, Clone, Default)]
pub struct Targeting {
    /// Plan only ADDRESS and what it depends on (repeatable). For exceptional cases: the plan
    /// may not be all the stack needs. `vpc` and `aws_vpc.vpc` are both accepted.
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
    /// Plan ADDRESS as a replacement even if nothing forces one (repeatable), as for a
    /// resource known to be broken.
    #[arg(long = "replace", value_name = "ADDRESS")]
    pub replace: Vec<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a stack without touching AWS or state.
    Validate {
        /// Stack name (stacks/NAME.yaml) or path.
        stack: String,
        /// Print the result as JSON, in the shape of `terraform validate -json`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Show what apply would do.
    Plan {
        /// Stack name (stacks/NAME.yaml) or path.
        stack: String,
        /// Save the plan to FILE for `clawform apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as JSON on stdout (Terraform's plan format unless --json-format native).
        #[arg(long)]
        json: bool,
        /// The JSON written by --json.
        #[arg(long, value_enum, default_value_t = JsonFormat::Terraform, requires = "json")]
        json_format: JsonFormat,
        /// Write the JSON on one line, as `terraform show -json` does (terraform-compliance
        /// reads only that).
        #[arg(long, requires = "json")]
        compact: bool,
        /// Exit 0 with no changes, 1 on error, 2 with changes.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Plan the destruction of the stack instead.
        #[arg(long)]
        destroy: bool,
        /// Read live resources first and plan drifted ones back (`--refresh=false` skips it).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
        refresh: bool,
        /// Hold the stack's lock while planning, so that no apply changes state meanwhile
        /// (`--lock=false` skips it, as Terraform's `-lock=false`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
        lock: bool,
        #[command(flatten)]
        targeting: Targeting,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Make the stack real: plan and apply, or apply a saved plan file.
    Apply {
        /// Stack name, stack path, or a plan file saved with `plan --out`.
        target: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Read live resources first and plan drifted ones back (`--refresh=false` skips it).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
        refresh: bool,
        /// Accept what AWS has into state instead of changing AWS.
        #[arg(long)]
        refresh_only: bool,
        /// Operations in flight at most.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
        #[command(flatten)]
        targeting: Targeting,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Delete every resource of a stack.
    Destroy {
        /// Stack name (stacks/NAME.yaml) or path.
        stack: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Operations in flight at most.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
    },
    /// Compare live resources with state: exit 0 in sync, 2 drifted, 1 error.
    Drift {
        /// Stack name (or path); omit with --all.
        #[arg(required_unless_present = "all")]
        stack: Option<String>,
        /// Every stack with state (base and every tenant).
        #[arg(long, conflicts_with = "stack")]
        all: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a stack's outputs.
    Output {
        /// Stack name.
        stack: String,
        /// Only this output (printed raw).
        name: Option<String>,
        /// Print as JSON: `{"NAME": {"value", "type", "sensitive"}}` as `terraform output -json`
        /// (with NAME: the value alone).
        #[arg(long)]
        json: bool,
    },
    /// Print clawform's version (and, with --json, the formats it reads and writes).
    Version {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read the state.
    State {
        /// What to read.
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Print the dependency graph of a stack as Graphviz DOT (or SVG), coloured by a plan's
    /// actions with --plan FILE or --with-plan.
    Graph {
        /// Stack name (stacks/NAME.yaml) or path.
        stack: String,
        /// Colour resources by the actions of this saved plan (`plan --out FILE`).
        #[arg(long, value_name = "PLANFILE", conflicts_with = "with_plan")]
        plan: Option<PathBuf>,
        /// Colour resources by a plan made now against state (no refresh: no AWS call).
        #[arg(long)]
        with_plan: bool,
        /// dot (Graphviz source) or svg (rendered by Graphviz's `dot`, which must be installed).
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Tenants: one stack per OpenClaw user, made from stacks/tenant.yaml.
    Tenant {
        /// What to do.
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Show a plan saved with `plan --out`: as `plan` prints it, or as JSON.
    Show {
        /// The plan file.
        planfile: PathBuf,
        /// Print as JSON (Terraform's plan format unless --json-format native).
        #[arg(long)]
        json: bool,
        /// The JSON written by --json.
        #[arg(long, value_enum, default_value_t = JsonFormat::Terraform, requires = "json")]
        json_format: JsonFormat,
        /// Write the JSON on one line, as `terraform show -json` does (terraform-compliance
        /// reads only that).
        #[arg(long, requires = "json")]
        compact: bool,
    },
    /// Tasks per instance (CPU, memory, network interfaces), instances, Auto Scaling group room
    /// and load balancer shards for a number of tenants; no AWS call.
    Capacity {
        /// How many tenants to plan for (default: as many as the Auto Scaling group holds).
        #[arg(long, value_name = "N")]
        tenants: Option<u32>,
        /// Count network interfaces as if the awsvpcTrunking account setting were on.
        #[arg(long)]
        trunking: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// The platform's monthly cost for several tenant counts (the seed's "Cost Scaling" table).
    Cost {
        /// Tenant counts, one row each.
        #[arg(long, value_name = "N,N,...", value_delimiter = ',', default_value = "0,1,2,4,8,16,50,100,500")]
        tenants: Vec<u32>,
        /// A price sheet to use instead of the built-in prices/us-west-2.yaml.
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Count network interfaces as if the awsvpcTrunking account setting were on.
        #[arg(long)]
        trunking: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Bring a resource that exists in AWS under management: ADDRESS must be declared in the
    /// stack and not yet in its state; ID is the Terraform AWS provider's import id (a VPC's
    /// `vpc-…`, a target group's ARN, an ECS service's `CLUSTER/NAME` or ARN).
    Import {
        /// Stack name (stacks/NAME.yaml) or path.
        stack: String,
        /// The resource's address in the stack.
        address: String,
        /// The live resource's id.
        id: String,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Remove a stale lock left by a process that died. LOCK_ID is the id the lock message
    /// names, so that a lock taken anew meanwhile is never removed by mistake. Asks first.
    ForceUnlock {
        /// Stack name.
        stack: String,
        /// The lock's id, as printed by the command that found the stack locked.
        lock_id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
}

/// Which JSON a plan is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JsonFormat {
    /// Terraform's machine-readable plan (format version 1.2), as `terraform show -json` writes
    /// it: what checkov, OPA and other policy tools read.
    Terraform,
    /// clawform's own plan document (the saved plan file's format).
    Native,
}

/// What `clawform graph` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz source.
    Dot,
    /// An SVG picture, rendered by Graphviz's `dot`.
    Svg,
}

/// `clawform state …`.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses in a stack's state.
    List {
        /// Stack name.
        stack: String,
    },
    /// Write a stack's state document to stdout (to move it between backends).
    Pull {
        /// Stack name.
        stack: String,
    },
    /// Store a state document read from FILE (`-` for stdin) as the stack's state in the
    /// backend: its serial must be above the stored one, its lineage the same (or no state yet).
    Push {
        /// The state file.
        file: PathBuf,
    },
    /// Rename a resource in a stack's state (after renaming it in the stack file), so that it
    /// is not destroyed and created again. Nothing in AWS changes.
    Mv {
        /// Stack name.
        stack: String,
        /// The address in state now.
        from: String,
        /// The new address.
        to: String,
    },
    /// Forget resources: remove them from a stack's state without destroying them (they go on
    /// running in AWS, unmanaged). Nothing in AWS changes.
    Rm {
        /// Stack name.
        stack: String,
        /// The addresses to forget.
        #[arg(required = true)]
        addresses: Vec<String>,
    },
    /// Show one resource's state.
    Show {
        /// Stack name.
        stack: String,
        /// The resource's address.
        address: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where a tenant's secrets come from: never the command line itself.
#[derive(Debug, Args, Clone, Default)]
pub struct SecretArgs {
    /// Read the API key from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "api_key_file")]
    pub api_key_env: Option<String>,
    /// Read the API key from this file (a trailing newline is dropped).
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Read the gateway token from this environment variable (default: a new random one).
    #[arg(long, value_name = "VAR")]
    pub gateway_token_env: Option<String>,
}

/// A tenant's task size (the template's `cpu` and `memory` parameters, recorded in the
/// tenant's state); a size that no instance of the base stack's type holds is refused at plan time.
#[derive(Debug, Args, Clone, Default)]
pub struct TaskSizeArgs {
    /// CPU units of the tenant's task (1024 = one vCPU; default: the template's, 512).
    #[arg(long, value_name = "UNITS", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpu: Option<u32>,
    /// Memory of the tenant's task, MiB (default: the template's, 1024).
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(1..))]
    pub memory: Option<u32>,
}

/// `clawform tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (or bring it up to the template); prints its URL and ARNs.
    Create {
        /// Tenant id: lower-case letters, digits and `-`.
        id: String,
        #[command(flatten)]
        secrets: SecretArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        size: TaskSizeArgs,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Destroy a tenant; the others are untouched.
    Destroy {
        /// Tenant id.
        id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants with their URLs.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant: URL, listener rule priority, ARNs.
    Show {
        /// Tenant id.
        id: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plan the template against every tenant (--all), or against one tenant, new or existing
    /// (`--json` then writes Terraform's plan format, for policy checks).
    Plan {
        /// One tenant's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every existing tenant (`--json`: a list of {id, summary, has_changes, plan} with
        /// clawform's own plan documents).
        #[arg(long)]
        all: bool,
        /// With ID: the secrets of a new tenant, to check them (a plan never holds them, and
        /// needs none: without them, what they make shows as known after apply).
        #[command(flatten)]
        secrets: SecretArgs,
        /// Exit 2 when any tenant has changes.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Print the plans as JSON (with ID: Terraform's plan format).
        #[arg(long)]
        json: bool,
        /// With ID and --json: on one line, as `terraform show -json` writes it.
        #[arg(long, requires = "json", requires = "id")]
        compact: bool,
        /// With --all: read live resources first and plan drifted ones back (`--refresh=false`
        /// plans against state as last applied, with no AWS call).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true, requires = "all")]
        refresh: bool,
        #[command(flatten)]
        size: TaskSizeArgs,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Apply the template to every tenant (a new image tag, say), several tenants at a time.
    Apply {
        /// Every tenant.
        #[arg(long, required = true)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        auto_approve: bool,
        /// Tenants applied at the same time.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
        parallelism: u16,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// What a tenant is doing: its service's desired, running and pending tasks, the rollout,
    /// its targets' health, the last service events; `--wait` waits until it runs (exit 0) or
    /// says why it does not (exit 1).
    Status {
        /// Tenant id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every tenant, as a table (read in batches).
        #[arg(long)]
        all: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Wait until the tenant is `running` (desired tasks running, rollout done) or `healthy`
        /// (also every target healthy in its target group).
        #[arg(long, value_enum, value_name = "STATE", conflicts_with = "all")]
        wait: Option<WaitState>,
        /// How long --wait waits: 30s, 5m, 1h.
        #[arg(long, default_value = "10m", value_name = "DURATION", requires = "wait")]
        timeout: String,
    },
    /// Suspend a tenant: no task runs (desired count 0), everything else is kept; later applies
    /// keep it suspended until `tenant resume`.
    Suspend {
        /// Tenant id.
        id: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resume a suspended tenant (desired count 1).
    Resume {
        /// Tenant id.
        id: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restart a tenant: a new deployment with the same task definition.
    Restart {
        /// Tenant id.
        id: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give a tenant a new API key (and gateway token: the one given, or a new generated one),
    /// then restart it so its tasks read them.
    RotateKey {
        /// Tenant id.
        id: String,
        #[command(flatten)]
        secrets: SecretArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A tenant's logs (CloudWatch Logs streams `<id>/…` of the base stack's log group), as
    /// `aws logs tail` prints them.
    Logs {
        /// Tenant id.
        id: String,
        /// From when: a duration back (30s, 5m, 1h, 2d) or an RFC 3339 time.
        #[arg(long, default_value = "10m", value_name = "WHEN")]
        since: String,
        /// Keep printing new events until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// One JSON object per event and line (JSON Lines): timestamp, stream, message.
        #[arg(long)]
        json: bool,
    },
}

/// What `tenant status --wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WaitState {
    /// Desired tasks running, rollout done.
    Running,
    /// Running, and every target healthy.
    Healthy,
}
