package ChatwootTest;

# Our own small harness for black-box tests through real nginx: renders a
# config into a temporary prefix, runs Debian's /usr/sbin/nginx with the
# built module, talks HTTP to it, reads the helper's SQLite store, and fails
# the test on [alert], [crit], [emerg] or sanitizer output in error.log that
# the test did not announce.

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(hmac_sha256_hex);
use Errno qw(EINTR);
use Exporter qw(import);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(free_port);

my $NGINX = $ENV{NGINX_BINARY} // '/usr/sbin/nginx';
my $MODULE = $ENV{CHATWOOT_MODULE}
    // croak 'CHATWOOT_MODULE must name the built module (./build.sh test sets it)';

sub new {
    my ($class, %opts) = @_;
    my $dir = tempdir('chatwoot-t-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{TEST_NGINX_LEAVE});
    # Workers and the helper drop to an unprivileged user: they must be
    # able to reach the prefix.
    chmod 0755, $dir;
    my $self = bless {
        dir        => $dir,
        workers    => $opts{workers} // 2,
        # nginx ignores USR2 unless the master was daemonized (its parent
        # must change), so binary-upgrade tests run it as a daemon.
        daemon     => $opts{daemon} // 0,
        allowed    => [],
        daemons    => [],
        log_offset => 0,
    }, $class;
    return $self;
}

sub dir { $_[0]{dir} }

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or croak "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# Announces a log line the test provokes on purpose (a kill -9 makes the
# master log an [alert], for instance).
sub allow_log {
    my ($self, $re) = @_;
    push @{$self->{allowed}}, $re;
    return $self;
}

sub worker_user {
    return $> == 0 ? 'nobody' : undef;
}

# Renders nginx.conf: $http is the inside of the http block.  Options:
# main => extra main-context lines, workers => count.
sub write_config {
    my ($self, $http, %opts) = @_;
    my $dir = $self->{dir};
    my $workers = $opts{workers} // $self->{workers};
    my $user = worker_user() ? 'user nobody nogroup;' : '';
    my $main = $opts{main} // '';
    my $daemon = $self->{daemon} ? 'on' : 'off';
    my $conf = <<"EOF";
load_module $MODULE;
$user
worker_processes $workers;
daemon $daemon;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log info;
$main
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
$http
}
EOF
    $self->write_file('nginx.conf', $conf);
    return $self;
}

# The usual http block: state path, zone, and one server with the webhook,
# status and a plain location.  Options: port (required), zone, webhook
# (arguments of chatwoot_webhook), http (more http lines), server (more
# server lines), state (another state path).
sub chatwoot_http {
    my ($self, %o) = @_;
    my $port = $o{port} // croak 'port';
    $self->{status_port} //= $port;
    my $zone = $o{zone} ? "chatwoot_zone $o{zone};" : '';
    my $webhook = $o{webhook} // '';
    my $state = $self->{state} = $o{state} // "$self->{dir}/state";
    my $http = $o{http} // '';
    my $server = $o{server} // '';
    # The inbox the webhook location serves: signed with a secret unless
    # the test says otherwise (inbox => { secret => undef, token => ... }).
    my %inbox = (secret => 'test-webhook-secret', url => 'http://127.0.0.1:9/',
                 api_token => 'test-api-token', %{$o{inbox} // {}});
    $self->{secret} = $inbox{secret};
    $self->{token} = $inbox{token};
    my $inbox = "    chatwoot_inbox main {\n"
        . "        url $inbox{url};\n"
        . "        account 1;\n        inbox " . ($inbox{inbox} // 7) . ";\n"
        . (defined $inbox{api_token} ? "        api_token $inbox{api_token};\n" : '')
        . (defined $inbox{secret} ? "        webhook_secret $inbox{secret};\n" : '')
        . (defined $inbox{token} ? "        webhook_token $inbox{token};\n" : '')
        . ($inbox{extra} // '')
        # No test reaches the real WhatsApp: an inbox without a device of
        # its own gets none (tests of the live session name their server).
        . (($inbox{extra} // '') =~ /\b(?:synthetic_device|whatsapp(?:_server)?)\b/
           ? '' : "        whatsapp off;\n")
        # The control conversation would add its own contact, conversation
        # and messages to what tests count in the fake Chatwoot: on only in
        # the tests that name it.
        . (($inbox{extra} // '') =~ /\bcontrol_conversation\b/
           ? '' : "        control_conversation off;\n")
        . "    }\n";
    return <<"EOF";
    chatwoot_state_path $state;
    $zone
$inbox
$http
    server {
        listen 127.0.0.1:$port;
        location = /chatwoot/webhook { chatwoot_webhook $webhook; }
        location = /chatwoot/status { chatwoot_status; }
        location = /chatwoot/metrics { chatwoot_metrics; }
        location = /plain { return 204; }
$server
    }
EOF
}

# The whole bridge for a test: a fake Chatwoot (account 1, API inbox 7),
# a synthetic WhatsApp device directory, and nginx with one inbox bound to
# both.  Options: extra (more inbox lines), fake (more FakeChatwoot options),
# inbox (the inbox directive's arguments, "7" by default).
# Returns (fake port, device directory, nginx port); the helper is running.
sub start_bridge {
    my ($self, %o) = @_;
    require ChatwootTest::FakeChatwoot;
    my $fake = ChatwootTest::FakeChatwoot->spawn($self, account => 1, token => 'test-api-token',
                                                 inbox => { id => 7, name => 'WhatsApp' },
                                                 %{$o{fake} // {}});
    my $device = $self->dir . '/device';
    mkdir $device;
    chmod 0777, $device;   # the helper runs as the worker user
    my $port = free_port();
    $self->write_config($self->chatwoot_http(
        port => $port,
        inbox => { url => "http://127.0.0.1:$fake/",
                   extra => "synthetic_device $device;\n" . ($o{extra} // ''),
                   ($o{inbox} ? (inbox => $o{inbox}) : ()) },
    ))->run;
    $self->wait_helper_running;
    return ($fake, $device, $port);
}

# One incoming message for the synthetic device in `$dir`, named by
# `$seq` (the device takes files in name order) and written whole: the
# device never sees half a file.
sub device_message {
    my ($class, $dir, $seq, %m) = @_;
    my $name = sprintf '%s/%010d-%s.json', $dir, $seq, $m{id};
    open my $fh, '>', "$name.tmp" or die $!;
    print {$fh} JSON::PP->new->canonical->utf8->encode(\%m);
    close $fh;
    rename "$name.tmp", $name or die $!;
}

# Test certificates in the test's directory, made with the openssl
# program: a CA for each name (<name>.pem, <name>.key), and server.pem and
# server.key for localhost signed by the first.  The CA files are readable
# by the worker user the helper runs as.
sub tls_test_certs {
    my ($self, @cas) = @_;
    @cas = ('ca') unless @cas;
    my $dir = $self->{dir};
    my $openssl = sub {
        my $out = qx{openssl @_ 2>&1};
        croak "openssl @_: $out" if $?;
    };
    for my $ca (@cas) {
        $openssl->("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout $dir/$ca.key"
                   . " -out $dir/$ca.pem -subj '/CN=WhatsApp mock test $ca'"
                   . " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign");
    }
    $openssl->("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $dir/server.key"
               . " -out $dir/server.csr -subj /CN=localhost");
    $self->write_file('server.ext', "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n"
                      . "extendedKeyUsage=serverAuth\n");
    $openssl->("x509 -req -in $dir/server.csr -CA $dir/$cas[0].pem -CAkey $dir/$cas[0].key -CAcreateserial"
               . " -days 2 -out $dir/server.pem -extfile $dir/server.ext");
    chmod 0644, map { "$dir/$_.pem" } @cas;
    return { server_cert => "$dir/server.pem", server_key => "$dir/server.key",
             map { ($_ => "$dir/$_.pem") } @cas };
}

sub write_file {
    my ($self, $name, $content) = @_;
    my $path = "$self->{dir}/$name";
    open my $fh, '>', $path or croak "$path: $!";
    print {$fh} $content;
    close $fh;
    return $path;
}

# nginx -t on the current config: (exit code, everything it printed).
sub test_config {
    my ($self, $conf) = @_;
    $conf //= "$self->{dir}/nginx.conf";
    my $out = qx{$NGINX -t -p $self->{dir}/ -c $conf -e $self->{dir}/test.log 2>&1};
    return ($? >> 8, $out);
}

sub run {
    my ($self) = @_;
    my $dir = $self->{dir};
    unlink "$dir/nginx.pid";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$dir/stderr.log";
        open STDERR, '>>', "$dir/stderr.log";
        exec $NGINX, '-p', "$dir/", '-c', "$dir/nginx.conf", '-e',
            "$dir/error.log";
        exit 127;
    }
    if ($self->{daemon}) {
        waitpid $pid, 0;
        croak "nginx failed to start:\n" . $self->read_file('error.log') if $?;
        $self->{master} = $self->read_pid('nginx.pid')
            // croak 'nginx did not write its pid file';
        return $self;
    }
    $self->{master} = $pid;
    for (1 .. 100) {
        last if -s "$dir/nginx.pid";
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{master};
            croak "nginx exited at start:\n" . $self->read_file('error.log')
                . $self->read_file('stderr.log');
        }
        sleep 0.05;
    }
    croak 'nginx did not write its pid file' unless -s "$dir/nginx.pid";
    return $self;
}

sub master_pid { $_[0]{master} }

sub read_pid {
    my ($self, $name) = @_;
    my $pid = $self->read_file($name);
    return $pid =~ /^(\d+)\s*$/ ? $1 : undef;
}

# The master is ours to watch, whether nginx runs as our child or daemonized.
sub set_master { $_[0]{master} = $_[1]; $_[0] }

# Waits until the helper of this nginx holds the state path and runs.
sub wait_helper_running {
    my ($self, $timeout) = @_;
    return $self->wait_for(sub {
        my $s = eval { $self->status };
        $s && $s->{helper}{state} eq 'running' ? $s : undef;
    }, $timeout // 5, 'helper running');
}

# Polls $check until it returns true; croaks after $timeout seconds.
sub wait_for {
    my ($self, $check, $timeout, $what) = @_;
    my $deadline = time + ($timeout // 5);
    while (time < $deadline) {
        my $v = $check->();
        return $v if $v;
        sleep 0.05;
    }
    croak "timed out waiting for $what";
}

###########################################################################
# Waiting for events.  A test that shows something did NOT happen first
# waits for the event that says the work is over (a log line, a row, a
# file taken), then looks; a fault test shows its fault landed mid-work.

# How many lines of error.log match $re.
sub log_count {
    my ($self, $re) = @_;
    # Matches, not list elements: a pattern with groups yields one element
    # per group in list context.
    my $log = $self->read_file('error.log');
    my $n = 0;
    $n++ while $log =~ /$re/mg;
    return $n;
}

# Waits until error.log holds at least $count lines matching $re.
sub wait_log {
    my ($self, $re, $count, $timeout) = @_;
    $count //= 1;
    return $self->wait_for(sub { $self->log_count($re) >= $count }, $timeout // 10,
                           "$count line(s) matching $re in error.log");
}

# Waits until the synthetic device has taken every message file it was
# given (none left in $device) and the store has none pending: from then
# on the helper has nothing more to post for them.
sub wait_device_done {
    my ($self, $device, $timeout) = @_;
    return $self->wait_for(sub {
        opendir my $dh, $device or croak "$device: $!";
        return if grep { /\.json$/ } readdir $dh;
        !$self->sql(q{SELECT count(*) FROM wa_inbound WHERE state = 'pending'})->[0][0];
    }, $timeout // 15, "the device's files taken and no WhatsApp message pending");
}

# Waits until every outbox entry is settled (sent or failed): from then on
# nothing more goes to the device for them.
sub wait_outbox_settled {
    my ($self, $timeout) = @_;
    return $self->wait_for(sub {
        !$self->sql(q{SELECT count(*) FROM outbox WHERE state NOT IN ('sent', 'failed')})->[0][0];
    }, $timeout // 15, 'every outbox entry settled');
}

# Kills the helper with -9 in the middle of its work, and proves it.
# Options: ready (polled with the status: a cheap sign that the work is
# under way), busy (asked of the frozen helper's state: whether work was
# done and work is left), timeout, what.  Waits (bounded) for a running
# helper other than the one killed last whose status satisfies ready; then
# freezes it (SIGSTOP), asks busy of the frozen state, which is exactly
# what the kill finds, and kills.  Returns what busy returned: false means
# the work was over before the kill landed, and the caller fails.
sub kill_helper_busy {
    my ($self, %o) = @_;
    my $pid = $self->wait_for(sub {
        my $s = eval { $self->status } or return;
        my $p = $s->{helper}{pid};
        return unless $s->{helper}{state} eq 'running' && $p
            && $p != ($self->{killed_helper} // 0) && $o{ready}->($s);
        return (grep { $_ == $p } @{$self->helper_pids}) ? $p : undef;
    }, $o{timeout} // 30, $o{what} // 'a helper at work');
    kill 'STOP', $pid or croak "kill STOP $pid: $!";
    my $at_kill = eval { $o{busy}->() };
    my $err = $@;
    kill 'KILL', $pid or croak "kill KILL $pid: $!";
    $self->{killed_helper} = $pid;
    diag "asking the frozen helper's state failed: $err" if $err;
    return $at_kill;
}

# Waits until nothing listens on $port any more.  After QUIT the master
# closes its listening sockets only once it has told every child to quit,
# so this is the event "the QUIT is on its way to every child".
sub wait_port_closed {
    my ($self, $port, $timeout) = @_;
    return $self->wait_for(sub {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
        return 1 if !$s && $!{ECONNREFUSED};
        close $s if $s;
        return;
    }, $timeout // 10, "port $port closed");
}

# Waits until the server has read everything sent on $sock so far: the
# kernel's receive queue of the server's end of the connection is empty
# (/proc/net/tcp), so the request is in nginx's hands, not in a buffer.
sub wait_server_read {
    my ($self, $sock, $timeout) = @_;
    # The kernel prints the address as a host-order word.
    my $lo = sprintf '%08X', unpack 'L', pack 'C4', 127, 0, 0, 1;
    my $local = sprintf '%s:%04X', $lo, $sock->peerport;
    my $peer = sprintf '%s:%04X', $lo, $sock->sockport;
    return $self->wait_for(sub {
        open my $fh, '<', '/proc/net/tcp' or croak "/proc/net/tcp: $!";
        while (<$fh>) {
            my (undef, $l, $r, undef, $queues) = split;
            next unless $l eq $local && $r eq $peer;
            my (undef, $rx) = split /:/, $queues;
            return hex($rx) == 0;
        }
        return;
    }, $timeout // 5, 'the server to read what was sent');
}

sub signal {
    my ($self, $sig) = @_;
    kill $sig, $self->{master} or croak "kill $sig: $!";
}

sub reload {
    my ($self) = @_;
    my $old = $self->helper_pids;
    $self->signal('HUP');
    $self->wait_for(sub {
        my $now = $self->helper_pids;
        @$now == 1 && !grep { $_ == $now->[0] } @$old;
    }, 10, 'a new helper after reload');
    return $self;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{master} or return;
    kill 'QUIT', $pid;
    my $deadline = time + 15;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) == $pid;
        return if $self->{daemon} && !kill 0, $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    croak 'nginx did not stop on QUIT';
}

# Stops everything and checks error.log: call once at the end of a test.
sub finish {
    my ($self) = @_;
    $self->stop;
    $self->stop_daemons;
    $self->check_log;
}

sub check_log {
    my ($self, $name) = @_;
    my @bad = grep {
        my $line = $_;
        !grep { $line =~ $_ } @{$self->{allowed}}
    } grep {
        /\[(alert|crit|emerg)\]/ || /Sanitizer|runtime error:/
    } split /\n/, $self->read_file('error.log') . $self->read_file('stderr.log');
    ok(!@bad, $name // 'no unexpected alert, crit, emerg or sanitizer line')
        or diag join "\n", @bad;
}

sub read_file {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{dir}/$name" or return '';
    local $/;
    return scalar <$fh>;
}

# Lines of error.log written since the last call (or since the start).
sub new_log {
    my ($self) = @_;
    my $all = $self->read_file('error.log');
    my $new = substr $all, $self->{log_offset};
    $self->{log_offset} = length $all;
    return $new;
}

# Processes titled as our helper whose parent is this test's master.
sub helper_pids {
    my ($self, $master) = @_;
    $master //= $self->{master};
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my ($pid) = $stat =~ m{/proc/(\d+)/};
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($ppid) = $line =~ /^\d+ \(.*\) \S (\d+)/ or next;
        next unless $ppid == $master;
        open my $cf, '<', "/proc/$pid/cmdline" or next;
        my $cmd = do { local $/; <$cf> } // '';
        push @pids, $pid if $cmd =~ /^nginx: chatwoot helper process/;
    }
    return [sort { $a <=> $b } @pids];
}

sub uid_of {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return;
    while (<$fh>) {
        return $1 if /^Uid:\s+(\d+)/;
    }
    return;
}

###########################################################################
# HTTP

# One request on a fresh connection: (status, {headers}, body).
sub http {
    my ($self, $port, $method, $path, %opts) = @_;
    my $conn = ChatwootTest::Conn->new($port);
    my @r = $conn->request($method, $path, %opts);
    $conn->close;
    return @r;
}

my $delivery_seq = 0;

# A webhook as Chatwoot sends it: JSON, signed with the inbox's secret (or
# carrying its token), with a fresh X-Chatwoot-Delivery.  Options: ts,
# delivery, secret, headers (override or add), path, conn (a keep-alive
# ChatwootTest::Conn to use).
sub webhook {
    my ($self, $port, $body, %o) = @_;
    my $ts = $o{ts} // int(time);
    my %h = ('Content-Type' => 'application/json',
             'X-Chatwoot-Delivery' => $o{delivery}
                 // sprintf('%08x-%04x-4000-8000-%012x', $$, ++$delivery_seq, int(rand(2**40))));
    my $secret = exists $o{secret} ? $o{secret} : $self->{secret};
    if (defined $secret) {
        $h{'X-Chatwoot-Timestamp'} = $ts;
        $h{'X-Chatwoot-Signature'} = 'sha256=' . hmac_sha256_hex("$ts.$body", $secret);
    }
    %h = (%h, %{$o{headers} // {}});
    delete $h{$_} for grep { !defined $h{$_} } keys %h;
    my $path = $o{path} // '/chatwoot/webhook';
    if (defined $self->{token} && !defined $secret && !$o{path}) {
        $path .= "?token=$self->{token}";
    }
    my @args = ('POST', $path, body => $body, headers => \%h);
    return $o{conn} ? $o{conn}->request(@args) : $self->http($port, @args);
}

sub status {
    my ($self, $port) = @_;
    $port //= $self->{status_port} // croak 'no status port';
    my ($code, undef, $body) = $self->http($port, 'GET', '/chatwoot/status');
    croak "status answered $code" unless $code == 200;
    return decode_json($body);
}

sub set_status_port { $_[0]{status_port} = $_[1]; $_[0] }

###########################################################################
# The helper's SQLite store

# Runs a query as the worker user (so that no file SQLite creates belongs
# to root) and returns the rows as array refs.
sub sql {
    my ($self, $query, @bind) = @_;
    my $db = ($self->{state} // "$self->{dir}/state") . '/chatwoot.db';
    pipe my $r, my $w or croak "pipe: $!";
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        close $r;
        if (my $user = worker_user()) {
            my ($uid, $gid) = (getpwnam $user)[2, 3];
            $) = "$gid $gid";
            $( = $gid;
            $> = $uid;
            $< = $uid;
        }
        require DBI;
        my $dbh = DBI->connect("dbi:SQLite:dbname=$db", '', '',
                               { RaiseError => 1, sqlite_unicode => 0 });
        $dbh->sqlite_busy_timeout(5000);
        my $rows = $dbh->selectall_arrayref($query, undef, @bind);
        print {$w} encode_json($rows);
        close $w;
        POSIX::_exit(0);
    }
    close $w;
    my $json = do { local $/; <$r> };
    waitpid $pid, 0;
    croak "query failed: $query" if $? || !defined $json || $json eq '';
    return decode_json($json);
}

###########################################################################
# Fake peers

# Forks $code (which should never return) and remembers it for finish().
sub run_daemon {
    my ($self, $code) = @_;
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        $code->();
        POSIX::_exit(0);
    }
    push @{$self->{daemons}}, $pid;
    return $pid;
}

sub stop_daemons {
    my ($self) = @_;
    for my $pid (@{$self->{daemons}}) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
    $self->{daemons} = [];
}

sub wait_port {
    my ($self, $port) = @_;
    $self->wait_for(sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1);
    }, 10, "port $port");
}

###########################################################################
# The live WhatsApp device against the loopback WhatsApp server
# (ChatwootTest::WaMock).  The operator's device API is served at
# /chatwoot/devices/ on the test's port.

# The http block of chatwoot_http whose inbox "main" is a live WhatsApp
# device talking to the mock $o{wa} (`whatsapp_server <its URL>
# root_key=<its key>`, or $o{directive}), plus the chatwoot_devices
# location.  Options: wa (required), directive, the options of
# chatwoot_http (port required; inbox => {extra => more inbox lines} for
# whatsapp_version and the like).
sub wa_http {
    my ($self, %o) = @_;
    my $wa = delete $o{wa} // croak 'wa';
    my $directive = delete $o{directive} // $wa->directive;
    my %inbox = %{delete $o{inbox} // {}};
    $inbox{extra} = "        $directive\n" . ($inbox{extra} // '');
    $self->{devices_prefix} = '/chatwoot/devices/';
    $self->{devices_port} = $o{port};
    return $self->chatwoot_http(
        %o, inbox => \%inbox,
        server => "        location /chatwoot/devices/ { chatwoot_devices; }\n" . ($o{server} // ''));
}

# A running nginx whose inbox "main" is a live device on a fresh mock, with
# a fake Chatwoot behind the inbox.  Options: wa (a mock already started),
# those of wa_write_config, fake (more FakeChatwoot options).
# Returns (nginx port, the mock); the helper is running.
sub start_wa {
    my ($self, %o) = @_;
    require ChatwootTest::FakeChatwoot;
    require ChatwootTest::WaMock;
    my $wa = $o{wa} // ChatwootTest::WaMock->start($self);
    my $fake = ChatwootTest::FakeChatwoot->spawn($self, account => 1, token => 'test-api-token',
                                                 inbox => { id => 7, name => 'WhatsApp' },
                                                 %{$o{fake} // {}});
    $self->{wa_setup} = { port => free_port(), wa => $wa, fake => $fake };
    $self->wa_write_config(%o)->run;
    $self->wait_helper_running;
    return ($self->{wa_setup}{port}, $wa);
}

# Writes nginx.conf again for the nginx of start_wa (same port, mock and
# fake Chatwoot), with other options (directive, inbox => {extra => ...},
# http, server, zone, webhook); a reload or restart then takes it.  `http` may be a sub,
# called when the mock and the fake Chatwoot are known (for wa_inbox).
sub wa_write_config {
    my ($self, %o) = @_;
    my $w = $self->{wa_setup} // croak 'start_wa first';
    $o{http} = $o{http}->() if ref $o{http} eq 'CODE';
    return $self->write_config($self->wa_http(
        port => $w->{port}, wa => $w->{wa},
        inbox => { url => "http://127.0.0.1:$w->{fake}/", %{$o{inbox} // {}} },
        map { exists $o{$_} ? ($_ => $o{$_}) : () } qw(directive http server zone webhook)));
}

# Another inbox block with a live device on the mock of start_wa (for the
# `http` option), bound to the same fake Chatwoot inbox; $extra: more lines.
sub wa_inbox {
    my ($self, $name, $extra) = @_;
    my $w = $self->{wa_setup} // croak 'start_wa first';
    return "    chatwoot_inbox $name {\n"
        . "        url http://127.0.0.1:$w->{fake}/;\n        account 1;\n        inbox 7;\n"
        . "        api_token test-api-token;\n        webhook_secret $name-secret;\n"
        . '        ' . $w->{wa}->directive . "\n" . ($extra // '')
        . (($extra // '') =~ /\bcontrol_conversation\b/ ? '' : "        control_conversation off;\n")
        . "    }\n";
}

# A request to the device API: (status, {headers}, body).
sub devices_http {
    my ($self, $method, $path, %o) = @_;
    my $port = $self->{devices_port} // croak 'no devices location (wa_http)';
    return $self->http($port, $method, $self->{devices_prefix} . $path, %o);
}

# One device's JSON (name, state, pn_jid, lid, reconnects, error, ...).
sub device {
    my ($self, $name) = @_;
    $name //= 'main';
    my ($code, undef, $body) = $self->devices_http('GET', $name);
    croak "device $name answered $code: $body" unless $code == 200;
    return decode_json($body);
}

# POST <prefix><name>/<what> (pair, pair-code, logout): (status, JSON).
sub device_command {
    my ($self, $name, $what, $body) = @_;
    my ($code, undef, $text) = $self->devices_http(
        'POST', "$name/$what",
        defined $body ? (body => encode_json($body),
                         headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, eval { decode_json($text) } // { raw => $text });
}

# The current QR as text: (status, body).
sub qr_text {
    my ($self, $name) = @_;
    my ($code, undef, $body) = $self->devices_http('GET', ($name // 'main') . '/qr?format=text');
    return ($code, $body);
}

# Waits until the device satisfies $want: a state name, or a sub given the
# device's JSON.  Returns the JSON.  The devices API shows the snapshot the
# helper publishes on every change: polling it waits for that event.
sub wait_device {
    my ($self, $name, $want, $timeout, $what) = @_;
    my $check = ref $want eq 'CODE' ? $want : sub { $_[0]{state} eq $want };
    my $last;
    my $d = eval {
        $self->wait_for(sub {
            $last = eval { $self->device($name) } or return;
            $check->($last) ? $last : undef;
        }, $timeout // 20, $what // "device $name " . (ref $want ? 'as wanted' : $want));
    };
    return $d if $d;
    croak "$@  device $name is now: " . (defined $last ? encode_json($last) : 'unknown');
}

# Waits until the device shows a QR to scan and returns its text: asks for
# one first (POST pair) if the device is idle, unpaired or logged out (a
# device that stopped waits for the operator).
sub wait_qr {
    my ($self, $name, $timeout) = @_;
    $name //= 'main';
    my $asked;
    $self->wait_device($name, sub {
        my ($d) = @_;
        if ($d->{state} =~ /^(unpaired|logged_out)$/ && !$asked) {
            my ($code, $j) = $self->device_command($name, 'pair');
            croak "pair answered $code: " . encode_json($j) unless $code == 202;
            $asked = $j->{id};
        }
        $d->{state} eq 'pairing_qr' && $d->{qr_pending};
    }, $timeout, "device $name showing a QR");
    my ($code, $qr) = $self->qr_text($name);
    croak "qr?format=text answered $code: $qr" unless $code == 200;
    return $qr;
}

# A linked device's connection ended by the test ($how->($conn, $since)
# does it) and come back by itself: the same keys log in on one new
# connection, the reconnect is counted once, the log line matching $log_re
# is there, and the mock never had two live connections.  $s holds the
# pairing's records and moves on: {reg, login, reconnects}.
sub wa_comes_back {
    my ($self, $wa, $name, $s, $what, $how, $log_re) = @_;
    my $from = $wa->last_seq;
    my $old = $s->{login}{conn};
    my $lines = $self->log_count($log_re);
    $how->($old, $from);
    my $closed = $wa->wait(type => 'closed', conn => $old, since => $from, timeout => 45);
    my $hs = $wa->wait(type => 'handshake', since => $closed->{seq}, timeout => 20);
    Test::More::is($hs->{client}{kind}, 'login', "$what: a login");
    Test::More::is($hs->{client}{noiseKey}, $s->{reg}{client}{noiseKey}, "$what: with the same keys");
    my $d = $self->wait_device($name, sub { $_[0]{state} eq 'connected' && $_[0]{reconnects} > $s->{reconnects} },
                               20, "connected again after $what");
    Test::More::is($d->{reconnects}, $s->{reconnects} + 1, "$what: one reconnect counted");
    $s->{reconnects} = $d->{reconnects};
    $wa->wait(type => 'passive', conn => $hs->{conn}, since => $from);
    Test::More::ok(eval { $self->wait_log($log_re, $lines + 1) }, "$what: the log says so")
        or Test::More::diag($@);
    Test::More::is(scalar @{$wa->events(type => 'handshake', since => $from)}, 1, "$what: one new connection");
    Test::More::is_deeply($wa->events(type => 'duplicate-login'), [], "$what: never two live connections");
    $s->{login} = $hs;
    return $hs;
}

# Pairs device $name with the mock's phone by QR: the QR from the API,
# the mock's phone scans it, and the device gets to connected.  Options:
# phone (digits; the mock's default otherwise), timeout.  Returns a hash:
# device (its JSON once connected), qr (the text scanned), sent (the mock's
# pair-success record: conn, jid, lid), registration (the mock's handshake
# event of the connection that showed the QR) and login (the handshake
# event of the first login after the pairing).
sub pair_qr {
    my ($self, $wa, $name, %o) = @_;
    $name //= 'main';
    my $qr = $self->wait_qr($name, $o{timeout});
    my $sent = $wa->scan($qr, defined $o{phone} ? (phone => "$o{phone}") : ());
    my ($reg) = grep { $_->{conn} == $sent->{conn} } @{$wa->events(type => 'handshake')};
    my $paired = $wa->wait(type => 'paired', conn => $sent->{conn}, timeout => $o{timeout} // 20);
    my $login = $wa->wait(type => 'handshake', since => $paired->{seq}, timeout => $o{timeout} // 20);
    my $d = $self->wait_device($name, 'connected', $o{timeout} // 30);
    return { device => $d, qr => $qr, sent => $sent, registration => $reg, login => $login };
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    # A test that died half-way: TERM makes the master take its workers and
    # helper down with it (KILL would orphan them, holding the ports).
    if (my $pid = delete $self->{master}) {
        kill 'TERM', $pid;
        for (1 .. 100) {
            last if waitpid($pid, WNOHANG) == $pid || !kill 0, $pid;
            sleep 0.05;
        }
    }
    $self->stop_daemons;
}

###########################################################################
# A keep-alive HTTP/1.1 client connection, strict about what it reads.

package ChatwootTest::Conn;

use Carp qw(croak);
use IO::Select;
use IO::Socket::INET;

sub new {
    my ($class, $port) = @_;
    my $self = bless { port => $port }, $class;
    $self->connect;
    return $self;
}

sub connect {
    my ($self) = @_;
    $self->{sock} = IO::Socket::INET->new(
        PeerAddr => "127.0.0.1:$self->{port}", Timeout => 10)
        or croak "connect to $self->{port}: $!";
    $self->{buf} = '';
}

sub close {
    my ($self) = @_;
    close $self->{sock} if $self->{sock};
    delete $self->{sock};
}

# Returns (status, {lowercased headers}, body).  A connection the server
# closed before answering anything (an idle keep-alive connection that a
# graceful reload shut) is reopened and the request sent again: nginx never
# reads a request from a connection it is closing, so nothing was done.
# (A worker crashing mid-request would look the same; our tests kill only
# the helper, never a worker.)
sub request {
    my ($self, $method, $path, %opts) = @_;
    for my $try (1 .. 3) {
        $self->connect unless $self->{sock};
        my @r = eval { $self->_request($method, $path, %opts) };
        return @r if @r;
        die $@ unless $@ =~ /^closed before answering/;
        $self->close;
    }
    croak "the server kept closing the connection";
}

sub _request {
    my ($self, $method, $path, %opts) = @_;
    my $body = $opts{body};
    my %h = (Host => 'localhost', %{$opts{headers} // {}});
    my $req = "$method $path HTTP/1.1\r\n";
    if (defined $body && !$opts{chunked}) {
        $h{'Content-Length'} = length $body;
    }
    if ($opts{chunked}) {
        $h{'Transfer-Encoding'} = 'chunked';
    }
    $req .= "$_: $h{$_}\r\n" for sort keys %h;
    $req .= "\r\n";
    if (defined $body) {
        if ($opts{chunked}) {
            my $chunk = $opts{chunked};
            for (my $i = 0; $i < length $body; $i += $chunk) {
                my $part = substr $body, $i, $chunk;
                $req .= sprintf("%x\r\n", length $part) . $part . "\r\n";
            }
            $req .= "0\r\n\r\n";
        } else {
            $req .= $body;
        }
    }
    my $sock = $self->{sock};
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite $sock, $req, length($req) - $off, $off;
        if (!defined $n) {
            # The server may answer (413) before taking the whole body.
            last if $off > 0;
            die "closed before answering\n";
        }
        $off += $n;
    }

    my $head = $self->_read_until("\r\n\r\n");
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($code) = $status_line =~ m{^HTTP/1\.[01] (\d{3}) }
        or croak "bad status line: $status_line";
    my %headers;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or croak "bad header: $_";
        $headers{lc $k} = $v;
    }
    my $content = '';
    if ($method ne 'HEAD' && $code != 204 && $code != 304) {
        if (defined $headers{'content-length'}) {
            $content = $self->_read_n($headers{'content-length'});
        } elsif (($headers{'transfer-encoding'} // '') =~ /chunked/i) {
            while (1) {
                my $size_line = $self->_read_until("\r\n");
                my $size = hex $size_line;
                last if $size == 0;
                $content .= $self->_read_n($size);
                $self->_read_n(2);
            }
            $self->_read_until("\r\n");
        } else {
            $content = $self->_read_to_eof;
        }
    }
    if (lc($headers{connection} // '') eq 'close') {
        $self->close;
    }
    return ($code, \%headers, $content);
}

# A server that hangs fails the test instead of hanging the whole run.
my $READ_TIMEOUT = 30;

sub _fill {
    my ($self, $first) = @_;
    my $sel = IO::Select->new($self->{sock});
    croak "no answer within $READ_TIMEOUT s" unless $sel->can_read($READ_TIMEOUT);
    my $n = sysread $self->{sock}, $self->{buf}, 65536, length $self->{buf};
    if (!$n) {
        die "closed before answering\n" if $first;
        croak "connection closed in the middle of a response";
    }
}

sub _read_until {
    my ($self, $sep) = @_;
    my $first = $self->{buf} eq '';
    while ((my $i = index $self->{buf}, $sep) < 0) {
        $self->_fill($first);
        $first = 0;
    }
    my $i = index $self->{buf}, $sep;
    my $out = substr $self->{buf}, 0, $i;
    substr($self->{buf}, 0, $i + length $sep) = '';
    return $out;
}

sub _read_n {
    my ($self, $n) = @_;
    $self->_fill(0) while length $self->{buf} < $n;
    return substr $self->{buf}, 0, $n, '';
}

sub _read_to_eof {
    my ($self) = @_;
    my $sel = IO::Select->new($self->{sock});
    while ($sel->can_read($READ_TIMEOUT)) {
        last unless sysread $self->{sock}, $self->{buf}, 65536, length $self->{buf};
    }
    my $out = $self->{buf};
    $self->{buf} = '';
    $self->close;
    return $out;
}

1;
