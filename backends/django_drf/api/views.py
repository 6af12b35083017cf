"""The suite's endpoints (backends/README.md) as DRF function views."""

from api.models import User
from api.serializers import OrderSerializer, PostSerializer, UserSerializer
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.response import Response


@api_view(["GET"])
def health(request):
    return Response({"status": "ok"})


@api_view(["POST"])
def json_payload(request):
    order = OrderSerializer(data=request.data)
    order.is_valid(raise_exception=True)
    items = order.validated_data["items"]
    total = sum(i["qty"] * i["price"] for i in items)
    return Response(
        {
            "customer": order.validated_data["customer"],
            "count": len(items),
            "total": round(total, 2),
        }
    )


@api_view(["GET"])
def get_user(request, user_id):
    try:
        user = User.objects.get(pk=user_id)
    except User.DoesNotExist:
        return Response({"detail": "no such user"}, status=status.HTTP_404_NOT_FOUND)
    return Response(UserSerializer(user).data)


@api_view(["POST"])
def create_post(request):
    post = PostSerializer(data=request.data)
    post.is_valid(raise_exception=True)
    post.save()
    return Response(post.data, status=status.HTTP_201_CREATED)


def _int(request, name, default, minimum, maximum=None):
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(name)
    return value


@api_view(["GET"])
def list_users(request):
    try:
        limit = _int(request, "limit", 20, 1, 100)
        offset = _int(request, "offset", None, 0)
        after = _int(request, "after", None, 0)
    except ValueError:
        return Response(
            {"detail": "bad limit, offset or after"}, status=status.HTTP_400_BAD_REQUEST
        )
    users = User.objects.order_by("id")
    if after is not None:
        page = list(users.filter(id__gt=after)[:limit])
    else:
        page = list(users[offset or 0 : (offset or 0) + limit])
    return Response(
        {"items": UserSerializer(page, many=True).data, "next_after": page[-1].id if page else None}
    )
