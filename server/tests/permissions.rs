//! The permission matrix: owner / member / guest / non-member × every action,
//! enforced by the server on REST and on the WebSocket.

mod common;

use common::{Session, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Cast {
    owner: Session,
    member: Session,
    guest: Session,
    outsider: Session,
    spare: Session,
    room: i64,
}

async fn private_room_with_everyone(server: &TestServer) -> Cast {
    let owner = server.register("owner").await;
    let member = server.register("member").await;
    let guest = server.register("guest").await;
    let outsider = server.register("outsider").await;
    let spare = server.register("spare").await;
    let room = server.create_room(&owner, "private room", "private").await;
    server.add_member(&owner, room, &member, "member").await;
    server.add_member(&owner, room, &guest, "guest").await;
    server.add_member(&owner, room, &spare, "member").await;
    Cast {
        owner,
        member,
        guest,
        outsider,
        spare,
        room,
    }
}

/// Runs one request as each of owner, member, guest, outsider and checks the statuses.
async fn expect(
    server: &TestServer,
    cast: &Cast,
    method: Method,
    path: &str,
    body: Option<Value>,
    statuses: [u16; 4],
) {
    let actors = [
        ("owner", &cast.owner),
        ("member", &cast.member),
        ("guest", &cast.guest),
        ("outsider", &cast.outsider),
    ];
    for ((name, actor), expected) in actors.into_iter().zip(statuses) {
        let (status, response) = server
            .request(method.clone(), path, Some(&actor.token), body.clone())
            .await;
        assert_eq!(
            status.as_u16(),
            expected,
            "{name} {method} {path}: {response}"
        );
        if status.is_client_error() {
            assert!(
                response["code"].is_string(),
                "{name} {method} {path}: errors are JSON: {response}"
            );
        }
    }
}

#[tokio::test]
async fn reading_a_private_room_needs_membership_and_hides_its_existence() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    server.send_message(&cast.owner, room, "hello").await;
    expect(
        &server,
        &cast,
        Method::GET,
        &format!("/api/v1/rooms/{room}"),
        None,
        [200, 200, 200, 404],
    )
    .await;
    expect(
        &server,
        &cast,
        Method::GET,
        &format!("/api/v1/rooms/{room}/members"),
        None,
        [200, 200, 200, 404],
    )
    .await;
    expect(
        &server,
        &cast,
        Method::GET,
        &format!("/api/v1/rooms/{room}/messages"),
        None,
        [200, 200, 200, 404],
    )
    .await;
    // The outsider's answer is the same as for a room that does not exist.
    let (status, missing) = server
        .get("/api/v1/rooms/999999", &cast.outsider.token)
        .await;
    let (_, hidden) = server
        .get(&format!("/api/v1/rooms/{room}"), &cast.outsider.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing, hidden);
}

#[tokio::test]
async fn every_role_can_chat_but_outsiders_cannot() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    for (who, status) in [
        (&cast.owner, 201),
        (&cast.member, 201),
        (&cast.guest, 201),
        (&cast.outsider, 404),
    ] {
        let (got, body) = server
            .post(
                &format!("/api/v1/rooms/{room}/messages"),
                &who.token,
                json!({"client_id": common::uuid_like(), "body": "hi"}),
            )
            .await;
        assert_eq!(got.as_u16(), status, "{body}");
    }
    let (_, page) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), &cast.owner.token)
        .await;
    assert_eq!(
        page["messages"].as_array().unwrap().len(),
        3,
        "the outsider's message was not stored"
    );
}

#[tokio::test]
async fn only_members_and_owners_invite_and_only_owners_see_every_invite() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    let path = format!("/api/v1/rooms/{room}/invites");
    expect(
        &server,
        &cast,
        Method::POST,
        &path,
        Some(json!({})),
        [201, 201, 403, 404],
    )
    .await;
    expect(
        &server,
        &cast,
        Method::GET,
        &path,
        None,
        [200, 200, 403, 404],
    )
    .await;
    let (_, owner_view) = server.get(&path, &cast.owner.token).await;
    let (_, member_view) = server.get(&path, &cast.member.token).await;
    // Setup made three invites (one per added member), the matrix two more.
    assert_eq!(owner_view.as_array().unwrap().len(), 5);
    assert_eq!(member_view.as_array().unwrap().len(), 1);
    // A member cannot revoke the owner's invite, the owner can revoke anyone's.
    let owner_code = owner_view
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["created_by"] == cast.owner.user_id)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let member_code = member_view[0]["code"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .delete(&format!("{path}/{owner_code}"), &cast.member.token)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .delete(&format!("{path}/{member_code}"), &cast.guest.token)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .delete(&format!("{path}/{member_code}"), &cast.owner.token)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // Nobody can mint an owner invite.
    let (status, error) = server
        .post(&path, &cast.owner.token, json!({"role": "owner"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
}

#[tokio::test]
async fn only_owners_manage_the_room_and_failures_change_nothing() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    let guest_path = format!("/api/v1/rooms/{room}/members/{}", cast.guest.user_id);
    let spare_path = format!("/api/v1/rooms/{room}/members/{}", cast.spare.user_id);

    // Non-owners first: every attempt fails and nothing changes.
    expect(
        &server,
        &cast,
        Method::PATCH,
        &format!("/api/v1/rooms/{room}"),
        Some(json!({"name": "renamed"})),
        [200, 403, 403, 404],
    )
    .await;
    expect(
        &server,
        &cast,
        Method::PATCH,
        &guest_path,
        Some(json!({"role": "guest"})),
        [200, 403, 403, 404],
    )
    .await;
    for who in [&cast.member, &cast.guest] {
        assert_eq!(
            server.delete(&spare_path, &who.token).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            server
                .delete(&format!("/api/v1/rooms/{room}"), &who.token)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let (status, _) = server
            .patch(
                &format!("/api/v1/rooms/{room}/members/{}", who.user_id),
                &who.token,
                json!({"role": "owner"}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "nobody promotes themselves");
    }
    assert_eq!(
        server.delete(&spare_path, &cast.outsider.token).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .delete(&format!("/api/v1/rooms/{room}"), &cast.outsider.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, members) = server
        .get(&format!("/api/v1/rooms/{room}/members"), &cast.owner.token)
        .await;
    assert_eq!(members.as_array().unwrap().len(), 4);
    let roles: Vec<_> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles.iter().filter(|r| *r == "owner").count(), 1);

    // The owner can do all of it.
    let (status, member) = server
        .patch(&guest_path, &cast.owner.token, json!({"role": "member"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(member["role"], "member");
    assert_eq!(
        server.delete(&spare_path, &cast.owner.token).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .get(&format!("/api/v1/rooms/{room}"), &cast.spare.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .delete(&format!("/api/v1/rooms/{room}"), &cast.owner.token)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .get(&format!("/api/v1/rooms/{room}"), &cast.owner.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_last_owner_cannot_leave_or_be_demoted() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    let (status, error) = server
        .post(
            &format!("/api/v1/rooms/{room}/leave"),
            &cast.owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let own = format!("/api/v1/rooms/{room}/members/{}", cast.owner.user_id);
    assert_eq!(
        server
            .patch(&own, &cast.owner.token, json!({"role": "member"}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    // With a second owner, the first may step down and leave.
    let member_path = format!("/api/v1/rooms/{room}/members/{}", cast.member.user_id);
    assert_eq!(
        server
            .patch(&member_path, &cast.owner.token, json!({"role": "owner"}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .post(
                &format!("/api/v1/rooms/{room}/leave"),
                &cast.owner.token,
                json!({})
            )
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // Anyone can leave.
    assert_eq!(
        server
            .post(
                &format!("/api/v1/rooms/{room}/leave"),
                &cast.guest.token,
                json!({})
            )
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn messages_are_edited_by_their_author_and_deleted_by_author_or_owner() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    let by_member = server.send_message(&cast.member, room, "member's").await["id"]
        .as_i64()
        .unwrap();
    let by_owner = server.send_message(&cast.owner, room, "owner's").await["id"]
        .as_i64()
        .unwrap();
    let path = |id: i64| format!("/api/v1/rooms/{room}/messages/{id}");

    expect(
        &server,
        &cast,
        Method::PATCH,
        &path(by_member),
        Some(json!({"body": "x"})),
        [403, 200, 403, 404],
    )
    .await;
    let (_, page) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), &cast.owner.token)
        .await;
    let edited = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == by_member)
        .unwrap()
        .clone();
    assert_eq!(edited["body"], "x");
    assert!(edited["edited_at"].is_i64());

    for who in [&cast.member, &cast.guest] {
        assert_eq!(
            server.delete(&path(by_owner), &who.token).await.0,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        server.delete(&path(by_owner), &cast.outsider.token).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.delete(&path(by_member), &cast.owner.token).await.0,
        StatusCode::NO_CONTENT,
        "owners moderate"
    );
    assert_eq!(
        server.delete(&path(by_owner), &cast.owner.token).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.delete(&path(by_owner), &cast.owner.token).await.0,
        StatusCode::NOT_FOUND,
        "already gone"
    );
    let (_, page) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), &cast.owner.token)
        .await;
    assert!(page["messages"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn public_rooms_are_listed_and_joinable_but_not_readable_before_joining() {
    let server = TestServer::start().await;
    let owner = server.register("owner").await;
    let visitor = server.register("visitor").await;
    let public = server.create_room(&owner, "lobby", "public").await;
    let private = server.create_room(&owner, "secret", "private").await;

    let (_, listed) = server
        .get("/api/v1/rooms?scope=public", &visitor.token)
        .await;
    let ids: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![public]);
    assert!(listed[0].get("role").is_none());

    assert_eq!(
        server
            .get(&format!("/api/v1/rooms/{public}"), &visitor.token)
            .await
            .0,
        StatusCode::OK
    );
    let (status, error) = server
        .get(&format!("/api/v1/rooms/{public}/messages"), &visitor.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "not_a_member");
    assert_eq!(
        server
            .post(
                &format!("/api/v1/rooms/{private}/join"),
                &visitor.token,
                json!({})
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (status, joined) = server
        .post(
            &format!("/api/v1/rooms/{public}/join"),
            &visitor.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(joined["role"], "member");
    assert_eq!(
        server
            .get(&format!("/api/v1/rooms/{public}/messages"), &visitor.token)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn invites_expire_run_out_and_can_be_revoked() {
    let server = TestServer::start().await;
    let owner = server.register("owner").await;
    let a = server.register("usera").await;
    let b = server.register("userb").await;
    let room = server.create_room(&owner, "team", "private").await;
    let (_, invite) = server
        .post(
            &format!("/api/v1/rooms/{room}/invites"),
            &owner.token,
            json!({"max_uses": 1, "role": "guest"}),
        )
        .await;
    let code = invite["code"].as_str().unwrap();
    assert!(invite["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/invite/{code}")));

    let (status, preview) = server
        .request(Method::GET, &format!("/api/v1/invites/{code}"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(preview["room_name"], "team");

    let (status, joined) = server
        .post(
            &format!("/api/v1/invites/{code}/accept"),
            &a.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(joined["role"], "guest");
    // Accepting again is harmless and uses nothing up.
    assert_eq!(
        server
            .post(
                &format!("/api/v1/invites/{code}/accept"),
                &a.token,
                json!({})
            )
            .await
            .0,
        StatusCode::OK
    );
    let (status, error) = server
        .post(
            &format!("/api/v1/invites/{code}/accept"),
            &b.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "used up: {error}");

    let (_, invite) = server
        .post(
            &format!("/api/v1/rooms/{room}/invites"),
            &owner.token,
            json!({}),
        )
        .await;
    let code = invite["code"].as_str().unwrap();
    assert_eq!(
        server
            .delete(
                &format!("/api/v1/rooms/{room}/invites/{code}"),
                &owner.token
            )
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server
            .post(
                &format!("/api/v1/invites/{code}/accept"),
                &b.token,
                json!({})
            )
            .await
            .0,
        StatusCode::GONE
    );
    assert_eq!(
        server
            .request(Method::GET, &format!("/api/v1/invites/{code}"), None, None)
            .await
            .0,
        StatusCode::GONE
    );

    for bad in [
        json!({"expires_in_secs": 5}),
        json!({"expires_in_secs": 99999999}),
        json!({"max_uses": 0}),
    ] {
        let (status, _) = server
            .post(
                &format!("/api/v1/rooms/{room}/invites"),
                &owner.token,
                bad.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn websocket_actions_follow_the_same_rules() {
    let server = TestServer::start().await;
    let cast = private_room_with_everyone(&server).await;
    let room = cast.room;
    let owner_message = server.send_message(&cast.owner, room, "owner's").await["id"]
        .as_i64()
        .unwrap();

    let mut outsider = server.connect(&cast.outsider).await;
    for (kind, payload) in [
        (
            "message.send",
            json!({"room_id": room, "client_id": "x1", "body": "let me in"}),
        ),
        ("typing", json!({"room_id": room})),
        (
            "room.read",
            json!({"room_id": room, "message_id": owner_message}),
        ),
        (
            "message.delete",
            json!({"room_id": room, "message_id": owner_message}),
        ),
    ] {
        let reply = outsider.call(kind, kind, payload).await;
        assert_eq!(reply["type"], "error", "{kind}: {reply}");
        assert_eq!(reply["payload"]["code"], "not_found", "{kind}: {reply}");
    }
    let mut guest = server.connect(&cast.guest).await;
    let reply = guest
        .call(
            "e1",
            "message.edit",
            json!({"room_id": room, "message_id": owner_message, "body": "mine now"}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "forbidden");
    let reply = guest
        .call(
            "d1",
            "message.delete",
            json!({"room_id": room, "message_id": owner_message}),
        )
        .await;
    assert_eq!(reply["payload"]["code"], "forbidden");
    let (_, page) = server
        .get(&format!("/api/v1/rooms/{room}/messages"), &cast.owner.token)
        .await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert_eq!(page["messages"][0]["body"], "owner's");
}
