# The state path holds secrets (the store, soon the WhatsApp keys, media):
# under a permissive umask, and with a state directory an operator made
# open to everyone, the helper still leaves only private modes behind:
# directories 0700, the database and its -wal and -shm 0600.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
my $state = $t->dir . '/state';
mkdir $state or die "mkdir $state: $!";
chmod 0777, $state;

my $old = umask 0;
$t->write_config($t->chatwoot_http(port => $port))->run;
umask $old;
$t->wait_helper_running;

# A webhook: the store writes, so the -wal and -shm exist.
my ($code) = $t->webhook($port, message_created(id => 901, content => 'private'));
is($code, 202, 'a webhook is accepted');
$t->wait_for(sub { $t->status->{store}{persisted} == 1 }, 5, 'persisted');

sub mode_of { my @st = stat $_[0] or return 'missing'; sprintf '%04o', $st[2] & 07777 }

is(mode_of($state), '0700', 'the state directory was tightened to 0700');
is(mode_of("$state/media"), '0700', 'the media directory is 0700');
is(mode_of("$state/$_"), '0600', "$_ is 0600") for qw(chatwoot.db chatwoot.db-wal chatwoot.db-shm helper.lock);

$t->finish;
done_testing;
