package ChatwootTest::Postgres;

# A real PostgreSQL server for a test: Debian's `postgresql` (initdb and
# pg_ctl from /usr/lib/postgresql/<major>/bin, the newest major installed),
# a cluster made in a temporary directory, listening on a free loopback
# port and on a unix socket in that directory, with Chatwoot's tables
# (t/data/chatwoot_schema.sql) loaded into a database of its own.
#
#   my $pg = ChatwootTest::Postgres->start;        # or (schema => 0) for none
#   $pg->url            postgresql://chatwoot_import:<pw>@127.0.0.1:<port>/chatwoot
#   $pg->conninfo       the same as key=value pairs
#   $pg->psql($sql)     rows as array refs (the superuser, over the socket)
#   $pg->stop('immediate'); $pg->start_again;       a crash and a restart
#
# Tests run as root and PostgreSQL refuses to: the cluster belongs to the
# `postgres` user the Debian package creates (else `nobody`), and every
# server program runs through runuser.  pg_ctl's -w waits until the server
# accepts connections (it watches postmaster.pid's status line), so no test
# sleeps.  The server is stopped when the object goes away or at END, and
# its directory removed: no process is left behind.

use strict;
use warnings;

use Carp qw(croak);
use File::Basename qw(dirname);
use File::Path qw(remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use Scalar::Util qw(weaken);

my $SCHEMA = File::Spec->rel2abs(dirname(__FILE__) . '/../../data/chatwoot_schema.sql');
my %LIVE;   # every started server, stopped at END even if a test dies

# The newest PostgreSQL major installed, as /usr/lib/postgresql/<major>/bin.
sub bin_dir {
    my @majors = sort { $b <=> $a } grep { /^\d+$/ && -x "/usr/lib/postgresql/$_/bin/initdb" }
        map { (File::Spec->splitdir($_))[-1] } glob('/usr/lib/postgresql/*');
    @majors or croak 'no PostgreSQL server in /usr/lib/postgresql: run ./build.sh (package postgresql)';
    return "/usr/lib/postgresql/$majors[0]/bin";
}

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or croak "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# The user the server runs as, and how to run a program as that user.
sub server_user {
    return undef if $> != 0;
    for my $u (qw(postgres nobody)) {
        return $u if defined getpwnam($u);
    }
    croak 'running as root with neither a postgres nor a nobody user';
}

sub as_server {
    my ($self, @cmd) = @_;
    return $self->{user} ? ('runuser', '-u', $self->{user}, '--', @cmd) : @cmd;
}

sub run_quiet {
    my ($self, @cmd) = @_;
    my $out = '';
    my $pid = open(my $fh, '-|') // croak "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec($self->as_server(@cmd)) or exit 127;
    }
    { local $/; $out = <$fh> // ''; }
    close $fh;
    return ($? >> 8, $out);
}

# Options: schema (default 1: load t/data/chatwoot_schema.sql), database
# (default "chatwoot"), password (of the import role), durable (default 0:
# fsync off, as tests need no crash safety of the disk; a benchmark sets 1).
sub start {
    my ($class, %o) = @_;
    my $self = bless {
        bin      => bin_dir(),
        user     => server_user(),
        database => $o{database} // 'chatwoot',
        role     => 'chatwoot_import',
        password => $o{password} // 'secret-' . int(rand(1e9)),
        port     => free_port(),
        durable  => $o{durable} // 0,
    }, $class;
    $self->{dir} = tempdir('chatwoot-pg-XXXXXX', TMPDIR => 1, CLEANUP => 0);
    $self->{data} = "$self->{dir}/data";
    if ($self->{user}) {
        my ($uid, $gid) = (getpwnam($self->{user}))[2, 3];
        chown $uid, $gid, $self->{dir} or croak "chown $self->{dir}: $!";
    }
    chmod 0700, $self->{dir};
    my ($rc, $out) = $self->run_quiet("$self->{bin}/initdb", '-D', $self->{data}, '-U', 'postgres',
                                      '--auth-local=trust', '--auth-host=scram-sha-256',
                                      '-E', 'UTF8', '--locale=C', '--no-sync');
    $rc == 0 or croak "initdb failed: $out";
    # Weak: DESTROY still runs when the test drops the object; END stops
    # whatever is left (a test that died half-way).
    $LIVE{"$self"} = $self;
    weaken($LIVE{"$self"});
    $self->start_again;
    $self->psql_do("CREATE ROLE $self->{role} LOGIN PASSWORD '$self->{password}'", 'postgres');
    $self->psql_do("CREATE DATABASE $self->{database} OWNER postgres", 'postgres');
    if ($o{schema} // 1) {
        $self->load_file($SCHEMA);
        $self->grant_import(1);
    }
    return $self;
}

# The least privilege the import needs (README "PostgreSQL import"): read
# the account, inbox and schema version; read, add and update contacts,
# contact inboxes, conversations and messages; draw ids and the account's
# display_id sequence.  Nothing else: no DELETE, no DDL.
sub grant_import {
    my ($self, $account) = @_;
    my $r = $self->{role};
    $self->psql_do(join ';',
        "GRANT CONNECT ON DATABASE $self->{database} TO $r",
        "GRANT USAGE ON SCHEMA public TO $r",
        "GRANT SELECT ON accounts, inboxes, schema_migrations TO $r",
        "GRANT SELECT, INSERT, UPDATE ON contacts, contact_inboxes, conversations, messages TO $r",
        "GRANT USAGE ON SEQUENCE contacts_id_seq, contact_inboxes_id_seq, conversations_id_seq,"
          . " messages_id_seq, conv_dpid_seq_$account TO $r");
    return $self;
}

# Starts (or starts again after stop) the server; returns when it accepts
# connections.
sub start_again {
    my ($self) = @_;
    my $opts = "-p $self->{port} -k $self->{dir} -c listen_addresses=127.0.0.1";
    $opts .= ' -c fsync=off -c full_page_writes=off' unless $self->{durable};
    my ($rc, $out) = $self->run_quiet("$self->{bin}/pg_ctl", '-D', $self->{data},
                                      '-l', "$self->{dir}/server.log", '-o', $opts,
                                      '-w', '-t', '60', 'start');
    $rc == 0 or croak "pg_ctl start failed: $out\n" . $self->server_log;
    $self->{running} = 1;
    return $self;
}

# Stops the server: mode "fast" (the default), or "immediate" (a crash:
# connections cut, no checkpoint; the next start recovers from the WAL).
sub stop {
    my ($self, $mode) = @_;
    return $self unless $self->{running};
    my ($rc, $out) = $self->run_quiet("$self->{bin}/pg_ctl", '-D', $self->{data},
                                      '-m', $mode // 'fast', '-w', 'stop');
    $rc == 0 or croak "pg_ctl stop failed: $out";
    $self->{running} = 0;
    return $self;
}

sub server_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/server.log" or return '';
    local $/;
    return <$fh>;
}

sub port     { $_[0]{port} }
sub database { $_[0]{database} }
sub role     { $_[0]{role} }
sub password { $_[0]{password} }
sub host     { '127.0.0.1' }

# The import role's URL and key=value conninfo (over TCP with its password).
sub url {
    my ($self, %o) = @_;
    my $db = $o{database} // $self->{database};
    return "postgresql://$self->{role}:$self->{password}\@127.0.0.1:$self->{port}/$db";
}

sub conninfo {
    my ($self, %o) = @_;
    my $db = $o{database} // $self->{database};
    return "host=127.0.0.1 port=$self->{port} dbname=$db user=$self->{role}"
         . " password=$self->{password}";
}

# psql as the superuser over the socket: stop at the first error.
sub psql_cmd {
    my ($self, $db) = @_;
    return ("$self->{bin}/psql", '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $self->{dir},
            '-p', $self->{port}, '-U', 'postgres', '-d', $db // $self->{database});
}

sub psql_do {
    my ($self, $sql, $db) = @_;
    my ($rc, $out) = $self->run_quiet($self->psql_cmd($db), '-c', $sql);
    $rc == 0 or croak "psql: $sql: $out";
    return $out;
}

sub load_file {
    my ($self, $file, $db) = @_;
    # psql runs as the server's user: hand it the file on stdin.
    open my $in, '<', $file or croak "$file: $!";
    my $pid = open(my $fh, '-|') // croak "fork: $!";
    if ($pid == 0) {
        open STDIN, '<&', $in;
        open STDERR, '>&', \*STDOUT;
        exec($self->as_server($self->psql_cmd($db), '-f', '-')) or exit 127;
    }
    my $out = do { local $/; <$fh> // '' };
    close $fh;
    $? == 0 or croak "loading $file failed: $out";
    return $self;
}

# The rows of a query, each an array ref of its columns (NULL as undef).
sub psql {
    my ($self, $sql, $db) = @_;
    my ($rc, $out) = $self->run_quiet($self->psql_cmd($db), '-A', '-t', '-F', "\x1f",
                                      '-P', 'null=\\N', '-c', $sql);
    $rc == 0 or croak "psql: $sql: $out";
    my @rows;
    for my $line (split /\n/, $out) {
        push @rows, [ map { $_ eq '\\N' ? undef : $_ } split /\x1f/, $line, -1 ];
    }
    return \@rows;
}

# The first column of the first row.
sub value {
    my ($self, $sql, $db) = @_;
    my $rows = $self->psql($sql, $db);
    return @$rows ? $rows->[0][0] : undef;
}

sub shutdown {
    my ($self) = @_;
    return unless $self->{dir};
    eval { $self->stop('immediate') };
    delete $LIVE{"$self"};
    remove_tree($self->{dir}) unless $ENV{TEST_NGINX_LEAVE};
    $self->{dir} = undef;
}

sub DESTROY { $_[0]->shutdown }

END {
    $_->shutdown for grep { defined } values %LIVE;
}

1;
