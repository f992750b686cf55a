#!/usr/bin/env perl
# `./build.sh run`: what build.sh execs once the module is built.  Runs nginx
# with the chatwoot module in the foreground, in one of two modes:
#
#   environment mode, when any of CHATWOOT_URL, CHATWOOT_BASE_URL,
#     CHATWOOT_API_TOKEN, CHATWOOT_API_ACCESS_TOKEN, CHATWOOT_ACCOUNT_ID or
#     CHATWOOT_INBOX_ID is set (the names go-whatsapp-web-multidevice users
#     already have): checks every variable (one line per problem, exit 2
#     before anything starts), renders $RUN_DIR/nginx.conf from
#     examples/nginx.conf with the secrets in 0600 files beside it, runs
#     nginx -t on it, starts nginx and prints the login page, the webhook URL
#     to paste into the inbox and each QR to scan as it rotates;
#
#   a LOCAL DEMO otherwise: the project's fake Chatwoot
#     (t/lib/ChatwootTest/FakeChatwoot.pm, sending webhooks as Chatwoot does)
#     and loopback WhatsApp server (t/mock/wa/server.mjs) are started next to
#     nginx; the demo phone links the device, a demo contact writes "hello",
#     the terminal shows it in the fake Chatwoot, the curl an agent would run
#     to answer, and the answer reaching the contact's phone.
#
# Ctrl-C (SIGINT) or SIGTERM stops everything it started and exits 0; a child
# that stops on its own stops the rest (exit 1).  README: "The two commands".
#
#   tools/run.pl [--module PATH]     (default: build/ngx_http_chatwoot_module.so)

use strict;
use warnings;

use Cwd qw(abs_path);
use Errno qw(EINTR);
use Fcntl qw(O_CREAT O_EXCL O_WRONLY);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use Getopt::Long qw(GetOptions);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h setpgid);
use Time::HiRes qw(sleep time);

$| = 1;
my $ROOT = abs_path(dirname(__FILE__) . '/..');
my $NGINX = $ENV{NGINX_BINARY} // '/usr/sbin/nginx';
my $JSON = JSON::PP->new->utf8->canonical;

my $module = "$ROOT/build/ngx_http_chatwoot_module.so";
GetOptions('module=s' => \$module) or exit 2;

# The variables that select environment mode, and the two spellings of two
# of them (some applications use the second).
my @ENV_MODE = qw(CHATWOOT_URL CHATWOOT_BASE_URL CHATWOOT_API_TOKEN
                  CHATWOOT_API_ACCESS_TOKEN CHATWOOT_ACCOUNT_ID CHATWOOT_INBOX_ID);
my @READ = (@ENV_MODE, qw(CHATWOOT_DEVICE_ID CHATWOOT_WEBHOOK_SECRET));

###########################################################################
# Children: every process this launcher starts, each in its own process
# group, so that the terminal's Ctrl-C reaches only the launcher, which
# stops them in order (nginx first: its helper never sees its peers go).

my %child;          # pid => {name, pgid}
my $stop;           # the signal that asked us to stop
$SIG{INT} = $SIG{TERM} = sub { $stop //= $_[0] };
$SIG{PIPE} = 'IGNORE';

sub say_line { print "$_[0]\n" }
sub warn_line { print STDERR "$_[0]\n" }

sub spawn {
    my ($name, $setup) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        $SIG{PIPE} = 'DEFAULT';
        setpgid(0, 0);
        eval { $setup->(); 1 } or print STDERR "run: $name: $@";
        POSIX::_exit(127);
    }
    setpgid($pid, $pid);   # both sides, so that no signal finds it half-way
    $child{$pid} = {name => $name, pgid => $pid};
    return $pid;
}

# Whether a process of group $pgid still runs: a zombie does not (in a
# container whose PID 1 reaps no orphans, a killed worker's zombie stays).
sub group_running {
    my ($pgid) = @_;
    opendir my $d, '/proc' or return 0;
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = do { local $/; <$fh> } // next;
        my ($state, $pgrp) = $stat =~ /\) (\S) \d+ (\d+)/ or next;
        return 1 if $pgrp == $pgid && $state ne 'Z';
    }
    return 0;
}

# A child that ended, as (name, how); nothing when all are running.
sub reap_one {
    for my $pid (keys %child) {
        my $r = waitpid($pid, WNOHANG);
        next unless $r == $pid;
        my $c = delete $child{$pid};
        my $how = WIFSIGNALED($?) ? 'killed by signal ' . WTERMSIG($?)
                                  : 'exit status ' . WEXITSTATUS($?);
        # What it left in its group (an nginx worker or helper) goes too,
        # and is gone before the launcher says it stopped.
        kill 'KILL', -$c->{pgid};
        for (1 .. 200) {
            last unless group_running($c->{pgid});
            sleep 0.05;
        }
        return ($c->{name}, $how);
    }
    return;
}

# Stops the children, the newest first: nginx (TERM: its master takes the
# workers and the helper down) before the peers it talks to.
sub stop_all {
    for my $pid (sort { $child{$b}{order} <=> $child{$a}{order} } keys %child) {
        my $c = $child{$pid};
        kill 'TERM', $pid;
        my $deadline = time + ($c->{name} eq 'nginx' ? 20 : 5);
        while (waitpid($pid, WNOHANG) == 0) {
            if (time > $deadline) {
                warn_line("run: $c->{name} (pid $pid) did not stop: killed");
                kill 'KILL', -$c->{pgid};
                waitpid $pid, 0;
                last;
            }
            sleep 0.05;
        }
        # Anything of its group still there (nginx's workers end with the
        # master; this is for a process that did not).
        for (1 .. 100) {
            last unless group_running($c->{pgid});
            sleep 0.05;
        }
        if (group_running($c->{pgid})) {
            kill 'KILL', -$c->{pgid};
            for (1 .. 100) {
                last unless group_running($c->{pgid});
                sleep 0.05;
            }
        }
        delete $child{$pid};
    }
}

my $order = 0;
sub started { $child{$_[0]}{order} = $order++ ; return $_[0] }

# One pass of the watch: false when the launcher must stop (a signal, or a
# child that ended on its own, which is said).
my $died;
sub running {
    return 0 if $stop || $died;
    if (my ($name, $how) = reap_one()) {
        $died = 1;
        warn_line("run: $name stopped on its own ($how): stopping the rest");
        return 0;
    }
    return 1;
}

sub finish {
    my ($code) = @_;
    stop_all();
    if ($stop && !$died) {
        say_line("run: stopped by SIG$stop; everything it started has ended");
        exit 0;
    }
    exit($code // 1);
}

# Sleeps up to $s seconds unless told to stop; false then.
sub pause {
    my ($s) = @_;
    my $until = time + $s;
    while (time < $until) {
        return 0 unless running();
        sleep 0.05;
    }
    return running();
}

###########################################################################
# Checking the environment: every problem one line naming the variable.

sub env_value {
    my ($name) = @_;
    my $v = $ENV{$name};
    return defined $v && length $v ? $v : undef;
}

# A URL with a scheme and a host that goes into nginx.conf and to curl as
# it is: no spaces, quotes, semicolons or braces.
sub url_problem {
    my ($v) = @_;
    return 'must start with http:// or https://' unless $v =~ m{^https?://}i;
    return 'has spaces, control characters, quotes, ";" or braces'
        if $v =~ /[\s\x00-\x1f\x7f"'`;{}\\]/;
    my ($host, $port) = $v =~ m{^https?://(?:[^/?#@]*@)?(\[[0-9A-Fa-f:.]+\]|[^/?#:\[\]]*)(?::(\d*))?(?:[/?#]|$)};
    return 'has no host' unless defined $host && length $host;
    return 'has a bad port' if defined $port && ($port !~ /^\d{1,5}$/ || $port < 1 || $port > 65535);
    return;
}

sub check_env {
    my (@errors, %c);
    my $quote = sub { my $v = shift; length $v > 80 ? '"' . substr($v, 0, 77) . '..."' : "\"$v\"" };

    # One of two spellings; both set must say the same.
    my $either = sub {
        my ($a, $b, $secret, $missing) = @_;
        my ($va, $vb) = (env_value($a), env_value($b));
        if (defined $va && defined $vb && $va ne $vb) {
            push @errors, "$a and $b: both set and different; set one of them";
            return;
        }
        my ($name, $v) = defined $va ? ($a, $va) : ($b, $vb);
        unless (defined $v) {
            push @errors, "$a: not set ($missing; or $b)";
            return;
        }
        return ($name, $v);
    };

    if (my ($name, $v) = $either->('CHATWOOT_URL', 'CHATWOOT_BASE_URL', 0,
                                   'the Chatwoot installation, e.g. https://chatwoot.example.com')) {
        if (my $p = url_problem($v)) {
            push @errors, "$name: $p (got " . $quote->($v) . ')';
        } else {
            $c{url} = $v;
        }
    }
    if (my ($name, $v) = $either->('CHATWOOT_API_TOKEN', 'CHATWOOT_API_ACCESS_TOKEN', 1,
                                   "a user's access token: Profile settings > Access Token")) {
        # Never the value, not even a part of it.
        if ($v =~ /[\s\x00-\x1f\x7f]/) {
            push @errors, "$name: has spaces or control characters (its value is not shown)";
        } elsif (length $v > 4096) {
            push @errors, "$name: longer than 4096 bytes (its value is not shown)";
        } else {
            $c{token} = $v;
        }
    }
    my %what = (CHATWOOT_ACCOUNT_ID => "the account id in Chatwoot's URLs, /app/accounts/<id>/...",
                CHATWOOT_INBOX_ID => "the API inbox's id, the number in its settings URL");
    for my $name (qw(CHATWOOT_ACCOUNT_ID CHATWOOT_INBOX_ID)) {
        my $v = env_value($name);
        if (!defined $v) {
            push @errors, "$name: not set ($what{$name})";
        } elsif ($v !~ /^[1-9][0-9]{0,17}$/) {
            push @errors, "$name: must be a positive whole number (got " . $quote->($v) . ')';
        } else {
            $c{$name eq 'CHATWOOT_ACCOUNT_ID' ? 'account' : 'inbox'} = $v;
        }
    }
    push @errors, check_common(\%c);
    if (defined(my $v = env_value('CHATWOOT_WEBHOOK_SECRET'))) {
        if ($v =~ /[\s\x00-\x1f\x7f]/) {
            push @errors, 'CHATWOOT_WEBHOOK_SECRET: has spaces or control characters (its value is not shown)';
        } elsif (length $v > 4096) {
            push @errors, 'CHATWOOT_WEBHOOK_SECRET: longer than 4096 bytes (its value is not shown)';
        } else {
            $c{secret} = $v;
        }
    }
    if (defined(my $v = env_value('PUBLIC_URL'))) {
        if (my $p = url_problem($v)) {
            push @errors, "PUBLIC_URL: $p (got " . $quote->($v) . ')';
        } else {
            ($c{public} = $v) =~ s{/+$}{};
        }
    }
    if (defined(my $v = env_value('WHATSAPP_SERVER'))) {
        # whatsapp_server's arguments: a ws(s) URL, root_key=<64 hex>.
        my ($url, @rest) = split ' ', $v;
        if (($url // '') !~ m{^wss?://[^\s;{}"']+$} || grep { !/^root_key=[0-9a-fA-F]{64}$/ } @rest) {
            push @errors, 'WHATSAPP_SERVER: must be "ws[s]://host:port/path [root_key=<64 hex digits>]" (got '
                . $quote->($v) . ')';
        } else {
            $c{whatsapp_server} = $v;
        }
    }
    return (\%c, \@errors);
}

# What both modes read: PORT, LISTEN, CHATWOOT_DEVICE_ID.
sub check_common {
    my ($c) = @_;
    my @errors;
    my $port = env_value('PORT') // 8080;
    if ($port !~ /^[1-9][0-9]{0,4}$/ || $port > 65535) {
        push @errors, "PORT: must be a port number from 1 to 65535 (got \"$port\")";
    } else {
        $c->{port} = $port;
    }
    my $listen = env_value('LISTEN') // '127.0.0.1';
    if ($listen !~ /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}|localhost)$/) {
        push @errors, "LISTEN: must be an IPv4 address or localhost (got \"$listen\")";
    } else {
        $c->{listen} = $listen;
    }
    # What chatwoot_inbox takes as a block name (src/config/inbox_config.cpp).
    my $name = env_value('CHATWOOT_DEVICE_ID') // 'whatsapp';
    if ($name !~ /^[A-Za-z0-9_-]+$/) {
        push @errors, 'CHATWOOT_DEVICE_ID: the inbox block name takes letters, digits, "_" and "-" only (got "'
            . (length $name > 80 ? substr($name, 0, 77) . '...' : $name) . '")';
    } else {
        $c->{name} = $name;
    }
    if (defined $c->{port} && defined $c->{listen}) {
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => $c->{listen}, LocalPort => $c->{port},
                                      ReuseAddr => 1);
        if ($s) {
            close $s;
        } else {
            push @errors, "PORT: $c->{listen}:$c->{port} cannot be listened on ($!); set PORT to a free port";
        }
    }
    return @errors;
}

###########################################################################
# Files under the run directory

sub random_hex {
    my ($bytes) = @_;
    open my $fh, '<:raw', '/dev/urandom' or die "/dev/urandom: $!\n";
    read($fh, my $buf, $bytes) == $bytes or die "/dev/urandom: short read\n";
    return unpack 'H*', $buf;
}

# Written whole, then renamed: mode 0600 from the start.
sub write_private {
    my ($path, $text) = @_;
    my $tmp = "$path.tmp$$";
    unlink $tmp;
    sysopen my $fh, $tmp, O_WRONLY | O_CREAT | O_EXCL, 0600 or die "$tmp: $!\n";
    print {$fh} $text or die "$tmp: $!\n";
    close $fh or die "$tmp: $!\n";
    chmod 0600, $tmp;
    rename $tmp, $path or die "$path: $!\n";
}

sub read_text {
    my ($path) = @_;
    open my $fh, '<', $path or return;
    local $/;
    return scalar <$fh>;
}

# examples/nginx.conf with this run's values.  Each edit must find its line
# exactly once: a changed example fails here loudly, not in nginx.
sub render_conf {
    my (%o) = @_;
    my $conf = read_text("$ROOT/examples/nginx.conf") // die "examples/nginx.conf: $!\n";
    my @edits = (
        ['listen',          qr/^([ \t]*)listen 127\.0\.0\.1:8080;/m, "listen $o{listen}:$o{port};"],
        ['chatwoot_inbox',  qr/^([ \t]*)chatwoot_inbox support \{/m,  "chatwoot_inbox $o{name} {"],
        ['chatwoot_webhook', qr/^([ \t]*)chatwoot_webhook support /m, "chatwoot_webhook $o{name} "],
        ['url',             qr/^([ \t]*)url https:\/\/chatwoot\.example\.com check=60s;/m, "url $o{url} check=60s;"],
        ['account',         qr/^([ \t]*)account 1;/m,                "account $o{account};"],
        ['inbox',           qr/^([ \t]*)inbox 7;/m,                  "inbox $o{inbox};"],
        ['api_token',       qr/^([ \t]*)api_token change-me-api-token;/m, "api_token_file $o{token_file};"],
        ['webhook_secret',  qr/^([ \t]*)webhook_secret change-me-webhook-secret;/m,
            defined $o{secret_file} ? "webhook_secret_file $o{secret_file};" : "webhook_token_file $o{token_url_file};"],
        ['whatsapp',        qr/^([ \t]*)whatsapp on;/m,
            'whatsapp on;' . (defined $o{whatsapp_server} ? "\n\x01whatsapp_server $o{whatsapp_server};" : '')],
    );
    for my $e (@edits) {
        my ($what, $re, $line) = @$e;
        my $n = 0;
        # \x01 in $line: the indentation of the line replaced.
        $conf =~ s/$re/$n++; my $i = $1; (my $l = $line) =~ s{\x01}{$i}g; "$i$l"/ge;
        die "examples/nginx.conf: expected one \"$what\" line to fill in, found $n\n" unless $n == 1;
    }
    return "# Made by tools/run.pl (./build.sh run) from examples/nginx.conf; it is\n"
        . "# written again on every run: edit the example or the variables instead.\n\n" . $conf;
}

# The prefix: modules/ (the module), logs/, nginx.conf.  The worker user must
# reach it; when it cannot (a checkout under /root), workers and the helper
# stay root for this run, and it says so.
sub prepare_prefix {
    my ($dir) = @_;
    make_path("$dir/modules", "$dir/logs");
    chmod 0755, $dir;
    -f $module or die "the module $module is not built: run ./build.sh\n";
    my $link = "$dir/modules/ngx_http_chatwoot_module.so";
    unlink $link;
    symlink(abs_path($module), $link) or die "$link: $!\n";
    my $globals = "daemon off; pid $dir/nginx.pid;";
    if ($> == 0 && system('runuser', '-u', 'nobody', '--', 'test', '-x', $dir) != 0) {
        warn_line("note: the worker user cannot reach $dir; workers run as root for this run");
        $globals .= ' user root;';
    }
    return $globals;
}

# nginx -t on the rendered configuration: its own words when it fails.
sub nginx_test {
    my ($dir, $globals) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!\n";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec($NGINX, '-t', '-q', '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', '/dev/stderr',
             '-g', $globals) or POSIX::_exit(127);
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    if ($? != 0) {
        warn_line("run: nginx -t refused $dir/nginx.conf:");
        warn_line("  $_") for split /\n/, $out;
        finish(2);
    }
}

sub start_nginx {
    my ($dir, $globals) = @_;
    my $pid = spawn(nginx => sub {
        exec($NGINX, '-p', "$dir/", '-c', "$dir/nginx.conf", '-e', '/dev/stderr', '-g', $globals)
            or die "exec $NGINX: $!\n";
    });
    started($pid);
    return $pid;
}

###########################################################################
# HTTP, bounded: never hangs the launcher for more than a few seconds.

my $http = HTTP::Tiny->new(timeout => 5, agent => 'chatwoot-run/1');

sub get_json {
    my ($url) = @_;
    my $r = $http->get($url);
    return unless $r->{success};
    return eval { $JSON->decode($r->{content}) };
}

sub post_json {
    my ($url, $body, %h) = @_;
    my $r = $http->post($url, {headers => {'Content-Type' => 'application/json', %h},
                               content => $JSON->encode($body)});
    my $json = eval { $JSON->decode($r->{content}) };
    return ($r->{status}, $json, $r->{content});
}

sub wait_port {
    my ($host, $port, $what, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (running()) {
        return 1 if IO::Socket::INET->new(PeerAddr => "$host:$port", Timeout => 1);
        if (time > $deadline) {
            warn_line("run: $what did not listen on $host:$port within " . ($timeout // 30) . ' s');
            $died = 1;
            return 0;
        }
        sleep 0.1;
    }
    return 0;
}

# Waits for $check->() to give something true; undef (said) after $timeout.
sub wait_until {
    my ($check, $timeout, $what) = @_;
    my $deadline = time + $timeout;
    while (running()) {
        my $v = $check->();
        return $v if $v;
        if (time > $deadline) {
            warn_line("run: $what did not happen within $timeout s");
            $died = 1;
            return;
        }
        pause(0.2) or return;
    }
    return;
}

###########################################################################
# The QR on the terminal, as it rotates

my $qr_shown = '';
my %pair_asked;

sub show_qr {
    my ($devices_url, $name, $lead) = @_;
    my $d = get_json("$devices_url$name") or return;
    if ($d->{state} =~ /^(?:unpaired|logged_out)$/ && !$pair_asked{$name}++) {
        # A device that stopped waits for someone to ask for a QR.
        post_json("$devices_url$name/pair", {});
        return;
    }
    return unless $d->{state} eq 'pairing_qr' && $d->{qr_pending};
    my $r = $http->get("$devices_url$name/qr?format=text");
    return unless $r->{success};
    my $qr = $r->{content};
    return $qr if $qr eq $qr_shown;
    $qr_shown = $qr;
    say_line('');
    say_line($lead // "WhatsApp device \"$name\" waits to be linked: scan with the phone"
                      . ' (WhatsApp > Settings > Linked devices > Link a device)');
    if (open my $q, '-|', 'qrencode', '-t', 'ANSIUTF8', '-m', '2', '--', $qr) {
        local $/;
        print scalar <$q>;
        close $q;
    } else {
        say_line('(qrencode is not installed: open the login page to see the QR)');
    }
    return $qr;
}

###########################################################################
# Environment mode

sub environment_mode {
    my ($c, $errors) = check_env();
    if (@$errors) {
        warn_line($_) for @$errors;
        warn_line('run: ' . scalar(@$errors) . ' problem' . (@$errors == 1 ? '' : 's')
                  . ' with the environment (above); nothing was started');
        exit 2;
    }
    for my $name (sort grep { /^CHATWOOT_/ } keys %ENV) {
        next if grep { $_ eq $name } @READ;
        warn_line("note: $name is not read here (README: The two commands)");
    }
    my $dir = env_value('RUN_DIR') // "$ROOT/var";
    make_path($dir);
    $dir = abs_path($dir);
    my $globals = prepare_prefix($dir);

    # The secrets go in files only nginx's master (which reads the
    # configuration) can read; the configuration names the files.
    my %o = (%$c, token_file => 'chatwoot-api-token');
    write_private("$dir/chatwoot-api-token", "$c->{token}\n");
    my $token;
    if (defined $c->{secret}) {
        write_private("$dir/chatwoot-webhook-secret", "$c->{secret}\n");
        $o{secret_file} = 'chatwoot-webhook-secret';
        unlink "$dir/chatwoot-webhook-token";
    } else {
        # No secret: a URL token, drawn once and kept, so that the webhook
        # URL pasted into Chatwoot stays right across runs.
        $token = read_text("$dir/chatwoot-webhook-token") // '';
        chomp $token;
        if ($token !~ /^[0-9a-f]{32,}$/) {
            $token = random_hex(24);
            write_private("$dir/chatwoot-webhook-token", "$token\n");
        }
        $o{token_url_file} = 'chatwoot-webhook-token';
        unlink "$dir/chatwoot-webhook-secret";
    }
    write_private("$dir/nginx.conf", render_conf(%o));
    nginx_test($dir, $globals);

    my $local = $c->{listen} eq '0.0.0.0' ? '127.0.0.1' : $c->{listen};
    my $base = "http://$local:$c->{port}";
    my $public = $c->{public} // $base;
    my $hook = "$public/chatwoot/webhook" . (defined $token ? "?token=$token" : '');
    say_line("nginx -t: $dir/nginx.conf is fine (inbox block \"$c->{name}\": $c->{url},"
             . " account $c->{account}, inbox $c->{inbox})");
    start_nginx($dir, $globals);
    wait_port($local, $c->{port}, 'nginx') or finish(1);
    say_line("status:      $base/chatwoot/status");
    say_line("login page:  $base/chatwoot/devices/$c->{name}/login  (link the phone there, from this machine)");
    say_line("webhook URL: $hook");
    say_line('  paste it into Chatwoot: Settings > Inboxes > your API inbox > Configuration > Webhook URL.');
    say_line('  Chatwoot must reach it: set LISTEN (e.g. 0.0.0.0) and PUBLIC_URL (the address Chatwoot uses)'
             . ' when it runs elsewhere;');
    say_line('  Chatwoot 4.14+ refuses private and loopback addresses unless it runs with'
             . ' SAFE_FETCH_ALLOW_PRIVATE_NETWORK=true.');
    say_line(defined $token
             ? '  (no CHATWOOT_WEBHOOK_SECRET: the URL carries a token instead; set the inbox secret for signed webhooks)'
             : '  (webhooks are checked against CHATWOOT_WEBHOOK_SECRET, the inbox secret)');
    say_line('Ctrl-C stops nginx.');
    my $devices = "$base/chatwoot/devices/";
    while (running()) {
        show_qr($devices, $c->{name});
        pause(1) or last;
    }
    finish(1);
}

###########################################################################
# The local demo

my $DEMO_PHONE = '4915100000099';     # the phone our WhatsApp account lives on
my $DEMO_CONTACT = '4915100000001';   # a customer writing to it
my $DEMO_NAME = 'Maria';

sub start_fake_chatwoot {
    my (%o) = @_;
    pipe my $r, my $w or die "pipe: $!\n";
    my $pid = spawn('fake Chatwoot' => sub {
        close $r;
        $0 = 'chatwoot demo: fake Chatwoot';
        open STDIN, '<', '/dev/null';
        unshift @INC, "$ROOT/t/lib";
        require ChatwootTest::FakeChatwoot;
        require Mojo::Server::Daemon;
        require Mojo::IOLoop;
        my $fake = ChatwootTest::FakeChatwoot->new(%o);
        my $daemon = Mojo::Server::Daemon->new(app => $fake, listen => ['http://127.0.0.1:0'],
                                               silent => 1, inactivity_timeout => 65);
        $daemon->start;
        print {$w} $daemon->ports->[0], "\n";
        close $w;
        $SIG{INT} = $SIG{TERM} = sub { Mojo::IOLoop->stop };
        Mojo::IOLoop->start;
        POSIX::_exit(0);
    });
    started($pid);
    close $w;
    my $line = read_line($r, 30) // '';
    $line =~ /^(\d+)$/ or die "the fake Chatwoot did not start\n";
    return $1;
}

sub start_wa_mock {
    my ($dir) = @_;
    my $mock = "$ROOT/t/mock/wa";
    -d "$mock/node_modules" or die "$mock/node_modules is missing: ./build.sh run installs it\n";
    pipe my $r, my $w or die "pipe: $!\n";
    my $pid = spawn('WhatsApp mock' => sub {
        close $r;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $w or die "stdout: $!\n";
        open STDERR, '>>', "$dir/wa-mock.log" or die "$dir/wa-mock.log: $!\n";
        exec('node', "$mock/server.mjs", '--port', 0, '--root-key-out', "$dir/wa-mock.key")
            or die "exec node: $!\n";
    });
    started($pid);
    close $w;
    my $line = read_line($r, 30) // '';
    my ($json) = $line =~ /^ready (\{.*\})$/ or die "the WhatsApp mock did not start (see $dir/wa-mock.log)\n";
    # Its stdout stays open (it writes nothing more there).
    $child{$pid}{out} = $r;
    return $JSON->decode($json);
}

sub read_line {
    my ($fh, $timeout) = @_;
    my $sel = IO::Select->new($fh);
    my $buf = '';
    my $deadline = time + $timeout;
    while ((my $left = $deadline - time) > 0) {
        my @ready = $sel->can_read($left);
        next if !@ready && $! == EINTR && !$stop;
        last unless @ready;
        my $n = sysread $fh, $buf, 4096, length $buf;
        last unless $n;
        return $1 if $buf =~ /^(.*)\n/;
    }
    return;
}

sub one_line { my ($s) = @_; $s //= ''; $s =~ s/\s*\n\s*/ \/ /g; return $s }

# A message of the fake's state as one line.
sub chatwoot_line {
    my ($m, $contact) = @_;
    my $type = (qw(incoming outgoing activity template))[$m->{message_type}] // $m->{message_type};
    my $who = $m->{message_type} == 0 ? $contact : 'agent ' . ($m->{sender_type} eq 'User' ? 'Ana' : '?');
    my $files = @{$m->{attachments} // []} ? ' [+' . scalar(@{$m->{attachments}}) . ' attachment(s)]' : '';
    return sprintf '    #%d %-8s %s: %s%s', $m->{id}, $type, $who, one_line($m->{content}), $files;
}

sub demo_mode {
    my %c;
    my @errors = check_common(\%c);
    if (@errors) {
        warn_line($_) for @errors;
        warn_line('run: nothing was started');
        exit 2;
    }
    my $top = env_value('RUN_DIR') // "$ROOT/var";
    make_path($top);
    my $dir = abs_path($top) . '/demo';
    # A fresh demo each time: the mock's accounts and keys are new on every
    # start, so yesterday's linked device would mean nothing to it.
    remove_tree($dir);
    make_path($dir);
    my $globals = prepare_prefix($dir);

    say_line('=' x 72);
    say_line('LOCAL DEMO: no real WhatsApp and no real Chatwoot are involved.');
    say_line('A fake Chatwoot and a loopback WhatsApp server run next to nginx on this machine.');
    say_line('For the real thing, set CHATWOOT_URL, CHATWOOT_API_TOKEN, CHATWOOT_ACCOUNT_ID and');
    say_line('CHATWOOT_INBOX_ID (README: The two commands).');
    say_line('=' x 72);

    my $token = 'demo-' . random_hex(12);     # the fake's agent token
    my $secret = random_hex(24);               # the demo inbox's webhook secret
    my $base = "http://127.0.0.1:$c{port}";
    my $fake = eval {
        start_fake_chatwoot(account => 1, token => $token, webhooks => 1,
                            inbox => {id => 7, name => 'WhatsApp (demo)', secret => $secret,
                                      webhook_url => "$base/chatwoot/webhook"});
    } or do { warn_line("run: $@"); finish(1) };
    say_line("[demo] fake Chatwoot:   http://127.0.0.1:$fake/ (account 1, API inbox 7; state: /__fake/state)");
    my $mock = eval { start_wa_mock($dir) } or do { warn_line("run: $@"); finish(1) };
    my ($mock_port) = $mock->{control} =~ m{:(\d+)/control/$};
    say_line("[demo] WhatsApp mock:   $mock->{url} (control: $mock->{control}; log: $dir/wa-mock.log)");

    write_private("$dir/chatwoot-api-token", "$token\n");
    write_private("$dir/chatwoot-webhook-secret", "$secret\n");
    write_private("$dir/nginx.conf", render_conf(
        %c, url => "http://127.0.0.1:$fake", account => 1, inbox => 7,
        token_file => 'chatwoot-api-token', secret_file => 'chatwoot-webhook-secret',
        whatsapp_server => "$mock->{url} root_key=$mock->{root_key}"));
    nginx_test($dir, $globals);
    start_nginx($dir, $globals);
    wait_port('127.0.0.1', $c{port}, 'nginx') or finish(1);
    my $devices = "$base/chatwoot/devices/";
    say_line("[demo] nginx:           $base/ (config: $dir/nginx.conf)");
    say_line("[demo] login page:      $devices$c{name}/login");
    say_line("[demo] webhook URL:     $base/chatwoot/webhook (the fake Chatwoot posts there, signed)");

    # 1. The demo phone links the device: it scans the QR the device shows.
    my $since = last_event($mock->{control});
    for my $try (1 .. 3) {
        my $qr = wait_until(sub {
            show_qr($devices, $c{name}, "[demo] the device shows this QR; the demo phone (+$DEMO_PHONE) scans it:")
        }, 60, 'a QR from the device') or finish(1);
        my ($code, $scan, $raw) = post_json("$mock->{control}scan", {qr => $qr, phone => $DEMO_PHONE});
        last if $code == 200;
        # 409: the QR rotated between showing and scanning; the next one.
        next if $code == 409 && $try < 3;
        warn_line("run: the demo phone could not scan the QR ($code: " . one_line($raw) . ')');
        finish(1);
    }
    my $linked = wait_until(sub {
        my $d = get_json("$devices$c{name}");
        $d && $d->{state} eq 'connected' ? $d : undef;
    }, 60, 'the device linking') or finish(1);
    say_line("[demo] linked: the device is connected as +$DEMO_PHONE");
    # The session is ready for messages once the server saw it go passive.
    mock_wait($mock->{control}, 'passive', $since, 30) or finish(1);

    # 2. A contact writes "hello".
    my ($cc, $contact) = post_json("$mock->{control}contact", {phone => $DEMO_CONTACT, name => $DEMO_NAME});
    $cc == 200 or do { warn_line("run: the mock refused the demo contact ($cc)"); finish(1) };
    my ($mc, $sent) = post_json("$mock->{control}message",
                                {from => $DEMO_CONTACT, push_name => $DEMO_NAME,
                                 message => {conversation => 'hello'}});
    $mc == 200 or do { warn_line("run: the mock refused the demo message ($mc)"); finish(1) };
    say_line("[demo] WhatsApp: $DEMO_NAME (+$DEMO_CONTACT) wrote \"hello\" (WhatsApp id $sent->{id})");

    # 3. It arrives in the fake Chatwoot.
    my $state_url = "http://127.0.0.1:$fake/__fake/state";
    my $conv = wait_until(sub {
        my $s = get_json($state_url) or return;
        for my $cv (@{$s->{conversations}}) {
            return $cv if grep { ($_->{source_id} // '') eq "WAID:$sent->{id}" } @{$cv->{messages}};
        }
        return;
    }, 60, '"hello" arriving in the fake Chatwoot') or finish(1);
    my $conv_id = $conv->{display_id};
    say_line("[demo] Chatwoot: \"hello\" arrived in conversation $conv_id of the inbox (from $DEMO_NAME):");
    say_line(chatwoot_line($_, $DEMO_NAME)) for @{$conv->{messages}};
    my %seen = map { $_->{id} => 1 } @{$conv->{messages}};

    # 4. How an agent answers: Chatwoot's own API, as its web app does.
    my $api = "http://127.0.0.1:$fake/api/v1/accounts/1/conversations/$conv_id/messages";
    say_line('[demo] answer as an agent (Chatwoot then posts the webhook to nginx):');
    say_line("curl -sS -X POST '$api' -H 'api_access_token: $token' -H 'Content-Type: application/json'"
             . q{ -d '{"content":"Hi Maria, how can I help?","message_type":"outgoing"}'});
    say_line("[demo] or have $DEMO_NAME write again:");
    say_line("curl -sS -X POST '$mock->{control}message' -H 'Content-Type: application/json'"
             . qq{ -d '{"from":"$DEMO_CONTACT","message":{"conversation":"one more question"}}'});
    say_line('[demo] watching; Ctrl-C stops everything.');

    # 5. Watch both ends until Ctrl-C.
    my %to = map { $_ => 1 } grep { defined } @$contact{qw(pn lid)};
    my $seq = last_event($mock->{control});
    my $chatwoot_news = sub {
        my $s = get_json($state_url) or return;
        for my $cv (@{$s->{conversations}}) {
            for my $m (@{$cv->{messages}}) {
                next if $seen{$m->{id}}++;
                say_line("[demo] Chatwoot: new in conversation $cv->{display_id}:");
                say_line(chatwoot_line($m, $DEMO_NAME));
            }
        }
    };
    while (running()) {
        # The mock's long poll paces the loop (1 s without news).
        my $ev = mock_wait($mock->{control}, 'delivered', $seq, 1, 1);
        # What Chatwoot got first: an agent's answer is there before it
        # reaches the phone.
        $chatwoot_news->();
        next unless $ev;
        $seq = $ev->{seq};
        next unless $to{$ev->{to}};
        my $m = $ev->{message} // {};
        my $text = $m->{conversation} // ($m->{extendedTextMessage} // {})->{text};
        say_line("[demo] WhatsApp: $DEMO_NAME\'s phone received: "
                 . (defined $text ? one_line($text) : '(' . join(',', sort keys %$m) . ')'));
    }
    finish(1);
}

# The mock's newest event seq (a `since` for what follows).
sub last_event {
    my ($control) = @_;
    my $e = get_json("${control}events?since=0") or return 0;
    my $events = $e->{events} // [];
    return @$events ? $events->[-1]{seq} : 0;
}

# The first mock event of $type after $since, by the mock's long poll;
# undef after $timeout s (said unless $quiet).
sub mock_wait {
    my ($control, $type, $since, $timeout, $quiet) = @_;
    my $deadline = time + $timeout;
    while (running()) {
        my $ms = int(1000 * (($deadline - time) < 1 ? ($deadline - time) : 1));
        $ms = 1 if $ms < 1;
        my $r = $http->get("${control}wait?type=$type&since=$since&timeout=$ms");
        return eval { $JSON->decode($r->{content}) } if $r->{status} == 200;
        if (time >= $deadline) {
            unless ($quiet) {
                warn_line("run: the WhatsApp mock saw no \"$type\" within $timeout s");
                $died = 1;
            }
            return;
        }
    }
    return;
}

###########################################################################

eval {
    if (grep { defined env_value($_) } @ENV_MODE) {
        environment_mode();
    } else {
        demo_mode();
    }
    1;
} or do {
    my $err = $@;
    warn_line("run: $err") unless $err =~ /^exit\b/;
    finish(1);
};
