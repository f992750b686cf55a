package ChatwootTest::Payloads;

# Webhook bodies shaped like Chatwoot 4.15's (../shared/chatwoot/CONTRACT.md
# section 4): compact JSON as Rails' to_json writes it, with the same keys
# and types.  Each builder takes the few fields a test cares about.

use strict;
use warnings;

use Exporter qw(import);
use JSON::PP;

our @EXPORT_OK = qw(message_created message_updated status_changed typing for_chat);

my $JSON = JSON::PP->new->canonical->allow_nonref;

# Bodies go on the wire as UTF-8 bytes, whether a test wrote its strings as
# characters (use utf8) or as bytes.
sub _wire {
    my ($json) = @_;
    utf8::encode($json) if utf8::is_utf8($json);
    return $json;
}

sub _conversation {
    my (%o) = @_;
    my $conv = $o{conversation} // 15;
    my $phone = $o{phone} // '+5511987654321';
    (my $digits = $phone) =~ s/^\+//;
    return {
        additional_attributes => {},
        can_reply             => JSON::PP::true,
        channel               => 'Channel::Api',
        contact_inbox         => {
            id => 99, contact_id => 42, inbox_id => $o{inbox_id} // 7,
            source_id => "$digits\@s.whatsapp.net",
            created_at => '2026-06-20T10:15:00.000Z',
            updated_at => '2026-06-20T10:15:00.000Z',
            hmac_verified => JSON::PP::false, pubsub_token => 'q8Vd3kYx1mN7pQ2rT5wZ9aBc',
        },
        id       => $conv,
        inbox_id => $o{inbox_id} // 7,
        messages => [],
        labels   => [],
        meta     => {
            sender => {
                additional_attributes => {}, custom_attributes => {}, email => undef,
                id => 42, identifier => "$digits\@s.whatsapp.net", name => 'Maria Silva',
                phone_number => $phone, thumbnail => '', blocked => JSON::PP::false,
                type => 'contact',
            },
            assignee => undef, assignee_type => undef, team => undef,
            hmac_verified => JSON::PP::false,
        },
        status => $o{status} // 'open',
        custom_attributes => {}, snoozed_until => undef, unread_count => 1,
        first_reply_created_at => undef, priority => undef, waiting_since => 1781950530,
        agent_last_seen_at => 0, contact_last_seen_at => 0, last_activity_at => 1781950530,
        timestamp => 1781950530, created_at => 1781950500, updated_at => 1781950530.412,
        account => { id => 1, name => 'Acme' },
    };
}

sub _message {
    my ($event, %o) = @_;
    my %m = (
        account               => { id => 1, name => 'Acme' },
        additional_attributes => {},
        content_attributes    => $o{content_attributes} // {},
        content_type          => 'text',
        content               => exists $o{content} ? $o{content} : 'Olá Maria, já verifiquei o pedido.',
        conversation          => _conversation(%o),
        created_at            => '2026-06-20T10:16:02.118Z',
        id                    => $o{id} // 3022,
        inbox                 => { id => $o{inbox_id} // 7, name => 'WhatsApp' },
        message_type          => $o{message_type} // 'outgoing',
        private               => $o{private} ? JSON::PP::true : JSON::PP::false,
        sender                => { id => 3, name => 'Ana', email => 'ana@acme.test', type => 'user' },
        source_id             => $o{source_id},
        event                 => $event,
    );
    $m{attachments} = $o{attachments} if $o{attachments};
    return _wire($JSON->encode(\%m));
}

# A body made for the conversation whose contact is `chat` (a WhatsApp
# JID): Chatwoot names a reply's chat by the contact's source_id.
sub for_chat {
    my ($body, $chat) = @_;
    my $json = JSON::PP->new->canonical->utf8;
    my $m = $json->decode($body);
    $m->{conversation}{contact_inbox}{source_id} = $chat;
    $m->{conversation}{meta}{sender}{identifier} = $chat;
    return $json->encode($m);
}

sub message_created { _message('message_created', @_) }
sub message_updated { _message('message_updated', @_) }

sub status_changed {
    my (%o) = @_;
    my $c = _conversation(%o);
    $c->{event} = 'conversation_status_changed';
    $c->{changed_attributes} = undef;
    return _wire($JSON->encode($c));
}

sub typing {
    my (%o) = @_;
    return _wire($JSON->encode({
        event        => $o{on} ? 'conversation_typing_on' : 'conversation_typing_off',
        user         => { id => 3, name => 'Ana', email => 'ana@acme.test', type => 'user' },
        conversation => _conversation(%o),
        is_private   => $o{private} ? JSON::PP::true : JSON::PP::false,
    }));
}

1;
